import { rmSync } from "node:fs";
import path from "node:path";
import type { ResolvedHost, ResolvedStage } from "../config/resolve.js";
import { usageError } from "../errors.js";
import type { Executor } from "../transport/executor.js";
import { LocalExecutor } from "../transport/local.js";
import { SshExecutor } from "../transport/ssh.js";
import { persistentControlPath } from "./control-socket.js";
import { makeRunDir } from "./run-dirs.js";

export interface Target {
  readonly host: ResolvedHost;
  readonly executor: Executor;
}

/** Hosts of the stage, limited by --hosts when given (an unknown name is a usage error). */
export function selectHosts(stage: ResolvedStage, only: readonly string[] | undefined): ResolvedHost[] {
  if (!only || only.length === 0) return [...stage.hosts];
  const known = stage.hosts.map((h) => h.name);
  const unknown = only.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    const where = `${stage.component ? `component ${stage.component} of ` : ""}stage ${stage.name}`;
    throw usageError(
      `--hosts: no host named ${unknown.join(", ")} in ${where}`,
      `hosts in ${where}: ${known.join(", ")}${stage.component ? "; deploy the components apart with --component" : ""}`,
    );
  }
  return stage.hosts.filter((h) => only.includes(h.name));
}

export interface Targets extends ReadonlyArray<Target> {
  close(): Promise<void>;
}

/**
 * How a host is reached. The default is a local shell or the system OpenSSH client; tests pass
 * their own to make a step, a switch or a connection fail exactly where they want.
 */
export type ExecutorFactory = (
  host: ResolvedHost,
  stage: ResolvedStage,
  controlPath: () => string,
) => Executor;

export const systemExecutors: ExecutorFactory = (host, stage, controlPath) =>
  host.ssh
    ? new SshExecutor(host.name, host.ssh, stage.ssh, controlPath(), stage.commandTimeoutSeconds)
    : new LocalExecutor(host.name, stage.commandTimeoutSeconds);

/**
 * One executor per host for this run. SSH control sockets live in a private directory made for the
 * run (see run-dirs.ts) and removed with it; with `ssh.persist`,
 * at a path named by the connection, for the next run to find (see control-socket.ts).
 */
export function openTargets(
  stage: ResolvedStage,
  hosts: readonly ResolvedHost[],
  make: ExecutorFactory = systemExecutors,
): Targets {
  let controlDir: string | undefined;
  const targets = hosts.map((host, i): Target => {
    const controlPath = () => {
      const kept =
        stage.ssh.persistSeconds > 0 && host.ssh
          ? persistentControlPath(host.ssh, stage.ssh.acceptNewHostKeys)
          : undefined;
      if (kept) return kept;
      controlDir ??= makeRunDir("ssh");
      return path.join(controlDir, `c${i}`);
    };
    return { host, executor: make(host, stage, controlPath) };
  });
  return Object.assign(targets, {
    close: async () => {
      await Promise.all(targets.map((t) => t.executor.close()));
      if (controlDir) rmSync(controlDir, { recursive: true, force: true });
    },
  });
}

/**
 * Until the returned function is called, a signal stops whatever runs on these targets (the
 * running step's process group on each host). Returns the function that ends this.
 */
export function interruptOnSignal(
  targets: readonly { readonly executor: Executor }[],
  signal: AbortSignal | undefined,
): () => void {
  const stop = () => {
    for (const t of targets) void t.executor.interrupt();
  };
  signal?.addEventListener("abort", stop, { once: true });
  return () => signal?.removeEventListener("abort", stop);
}
