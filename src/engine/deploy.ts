import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT, type ExitCode } from "../errors.js";
import { type HostDeployPlan, planDeploy } from "../plan/deploy.js";
import { findLeftovers, isEmpty } from "../plan/reconcile.js";
import { nextReleaseId } from "../plan/release-id.js";
import type { TransferStats } from "../transport/executor.js";
import type { Emit } from "./events.js";
import { afterSwitch, recordFailure, undoCreated } from "./finalize.js";
import { type LockedTarget, lockAll, newOwner, unlockAll } from "./lock.js";
import { type DeployResult, describeLeftovers, type HostOutcome } from "./outcome.js";
import { type Prepared, prepareHost } from "./prepare.js";
import { sourceFacts, whoAmI } from "./source.js";
import { skewMs, switchAll, switchBack } from "./switch.js";
import { closeTargets, openTargets, selectHosts } from "./targets.js";

export interface DeployOptions {
  readonly stage: ResolvedStage;
  readonly hosts?: readonly string[];
  readonly lockWaitSeconds?: number;
  readonly emit: Emit;
  readonly signal?: AbortSignal;
  readonly command: string;
  readonly now?: () => Date;
}

/**
 * prepare everywhere -> barrier -> switch everywhere -> after_switch -> cleanup. Nothing switches
 * unless every host is ready; if a switch fails anywhere, the hosts that switched are switched back.
 */
export async function deploy(options: DeployOptions): Promise<DeployResult> {
  const { stage, emit } = options;
  const clock = options.now ?? (() => new Date());
  const started = clock();
  const who = whoAmI();
  const hosts = selectHosts(stage, options.hosts);
  const source = sourceFacts(stage);
  const targets = openTargets(hosts);
  const owner = newOwner(who, options.command, started);
  try {
    const sharedPaths = [...stage.sharedDirs, ...stage.sharedFiles];
    const locked = await lockAll(targets, {
      sharedPaths,
      owner,
      waitMs: (options.lockWaitSeconds ?? 0) * 1000,
      emit,
    });
    try {
      const releaseId = nextReleaseId(
        started,
        locked.flatMap((t) => [...t.facts.releaseDirs, ...t.facts.metas.keys()]),
      );
      const now = started.toISOString();
      let plans: HostDeployPlan[];
      try {
        plans = locked.map((t) =>
          planDeploy({
            stage,
            host: t.host,
            facts: t.facts,
            leftovers: findLeftovers(t.facts, now),
            source,
            releaseId,
            who,
            now,
          }),
        );
      } catch (error) {
        await unlockAll(locked, owner, emit);
        await undoCreated(locked);
        throw error;
      }
      for (const plan of plans) {
        if (!isEmpty(plan.leftovers))
          emit({ type: "warning", host: plan.host.name, message: describeLeftovers(plan.leftovers) });
      }
      return await run(options, locked, plans, releaseId, who, started);
    } finally {
      await unlockAll(locked, owner, emit);
    }
  } finally {
    await closeTargets(targets);
  }
}

async function run(
  options: DeployOptions,
  locked: LockedTarget[],
  plans: HostDeployPlan[],
  releaseId: string,
  who: string,
  started: Date,
): Promise<DeployResult> {
  const { stage, emit, signal } = options;
  const planOf = (t: LockedTarget) => plans[locked.indexOf(t)]!;
  const base = { release: releaseId, stage: stage.name, who, started };
  const interruptAll = () => {
    for (const t of locked) t.executor.interrupt();
  };

  emit({ type: "phase", phase: `prepare release ${releaseId}` });
  const prepared = new Map<LockedTarget, Prepared>();
  let firstError: Error | undefined;
  const stop = (error: Error) => {
    if (firstError) return;
    firstError = error;
    interruptAll();
  };
  const onAbort = () =>
    stop(
      new CutoverError("interrupted", "interrupted by a signal before the switch", {
        exitCode: EXIT.interrupted,
      }),
    );
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  await Promise.all(
    locked.map(async (t) => {
      if (firstError) return;
      try {
        prepared.set(t, await prepareHost(planOf(t), stage, t.executor, emit));
      } catch (error) {
        stop(error as Error);
      }
    }),
  );
  signal?.removeEventListener("abort", onAbort);

  if (firstError) {
    const reason = firstError.message;
    await Promise.all(
      locked.map((t) =>
        recordFailure(t, planOf(t), stage, prepared.get(t)?.meta ?? planOf(t).meta, reason, emit, started),
      ),
    );
    const hosts: HostOutcome[] = locked.map((t) => ({
      host: t.host.name,
      state: "unchanged",
      serving: planOf(t).previous ?? null,
    }));
    return finish(base, hosts, [], firstError, exitFor(firstError, EXIT.failed));
  }

  emit({
    type: "phase",
    phase: `switch ${locked.length} host${locked.length === 1 ? "" : "s"} to ${releaseId}`,
  });
  const outcomes = await switchAll(locked, () => releaseId, emit);
  const failedSwitch = outcomes.find((o) => !o.ok);
  if (failedSwitch) {
    emit({ type: "phase", phase: "switch failed: switching back" });
    const hosts: HostOutcome[] = [];
    for (const o of outcomes) {
      const previous = planOf(o.target).previous;
      let serving: string | null = o.ok ? releaseId : (previous ?? null);
      if (o.ok)
        serving = (await switchBack(o.target, releaseId, previous, emit)) ? (previous ?? null) : releaseId;
      hosts.push({ host: o.target.host.name, state: o.ok ? "switched-back" : "unchanged", serving });
    }
    const reason = failedSwitch.error?.message ?? "switch failed";
    await Promise.all(
      locked.map((t) => recordFailure(t, planOf(t), stage, prepared.get(t)!.meta, reason, emit, started)),
    );
    return finish(
      base,
      hosts,
      outcomes.map((o) => o.at),
      failedSwitch.error!,
      EXIT.failed,
    );
  }

  emit({ type: "phase", phase: "after switch" });
  const warnings = await Promise.all(
    locked.map((t) => afterSwitch(t, planOf(t), stage, prepared.get(t)!.meta, emit, started, signal)),
  );
  const problems = warnings.flat();
  const hosts: HostOutcome[] = locked.map((t) => ({
    host: t.host.name,
    state: "live",
    serving: releaseId,
    upload: prepared.get(t)!.upload,
  }));
  const result = finish(
    base,
    hosts,
    outcomes.map((o) => o.at),
    undefined,
    problems.length > 0 ? EXIT.degraded : EXIT.ok,
  );
  return { ...result, warnings: problems, switchSkewMs: skewMs(outcomes) };
}

function exitFor(error: Error, fallback: ExitCode): ExitCode {
  return error instanceof CutoverError && error.details.exitCode === EXIT.interrupted
    ? EXIT.interrupted
    : fallback;
}

function finish(
  base: { release: string; stage: string; who: string; started: Date },
  hosts: HostOutcome[],
  switchTimes: number[],
  error: Error | undefined,
  exitCode: ExitCode,
): DeployResult {
  const uploads = hosts.map((h) => h.upload).filter((u): u is TransferStats => u !== undefined);
  return {
    ok: error === undefined,
    exitCode,
    release: base.release,
    stage: base.stage,
    who: base.who,
    durationMs: Date.now() - base.started.getTime(),
    hosts,
    filesTransferred: uploads.reduce((n, u) => n + u.filesTransferred, 0),
    bytesTransferred: uploads.reduce((n, u) => n + u.bytesTransferred, 0),
    switchSkewMs: switchTimes.length > 1 ? Math.max(...switchTimes) - Math.min(...switchTimes) : 0,
    warnings: [],
    error: error
      ? {
          message: error.message,
          detail: error instanceof CutoverError ? [...(error.details.detail ?? [])] : [],
        }
      : undefined,
  };
}
