import type { ResolvedHost, ResolvedStage } from "../config/resolve.js";
import { usageError } from "../errors.js";
import type { Executor } from "../transport/executor.js";
import { LocalExecutor } from "../transport/local.js";

export interface Target {
  readonly host: ResolvedHost;
  readonly executor: Executor;
}

/** Hosts of the stage, limited by --hosts when given (an unknown name is a usage error). */
export function selectHosts(stage: ResolvedStage, only: readonly string[] | undefined): ResolvedHost[] {
  if (!only || only.length === 0) return [...stage.hosts];
  const known = stage.hosts.map((h) => h.name);
  const unknown = only.filter((name) => !known.includes(name));
  if (unknown.length > 0)
    throw usageError(
      `--hosts: no host named ${unknown.join(", ")} in stage ${stage.name}`,
      `hosts in ${stage.name}: ${known.join(", ")}`,
    );
  return stage.hosts.filter((h) => only.includes(h.name));
}

export function openTargets(hosts: readonly ResolvedHost[]): Target[] {
  return hosts.map((host) => ({ host, executor: new LocalExecutor(host.name) }));
}

export async function closeTargets(targets: readonly Target[]): Promise<void> {
  await Promise.all(targets.map((t) => t.executor.close()));
}
