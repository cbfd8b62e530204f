import type { HealthCheck, ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT, type ExitCode } from "../errors.js";
import { type HostDeployPlan, planDeploy } from "../plan/deploy.js";
import { hookCmds } from "../plan/hooks.js";
import { findLeftovers, isEmpty } from "../plan/reconcile.js";
import { nextReleaseId } from "../plan/release-id.js";
import type { TransferStats } from "../transport/executor.js";
import type { Emit } from "./events.js";
import { prune, recordFailure, recordLive, recordSwitchedBack, tryHooks, undoCreated } from "./finalize.js";
import { checkHealth } from "./health.js";
import { type LockedTarget, lockAll, newOwner, unlockAll } from "./lock.js";
import { type DeployResult, describeLeftovers, type HostOutcome } from "./outcome.js";
import { resetAndVerify } from "./php-runtime.js";
import { prepareHost } from "./prepare.js";
import { prepareAll } from "./prepare-all.js";
import { sourceFacts, whoAmI } from "./source.js";
import {
  type BatchHooks,
  type SwitchOutcome,
  skewMs,
  switchAll,
  switchBack,
  switchRolling,
} from "./switch.js";
import { openTargets, selectHosts } from "./targets.js";

export interface DeployOptions {
  readonly stage: ResolvedStage;
  readonly hosts?: readonly string[];
  readonly lockWaitSeconds?: number;
  readonly emit: Emit;
  readonly signal?: AbortSignal;
  readonly command: string;
  readonly now?: () => Date;
  /** Hosts prepared at the same time (default: all). */
  readonly parallel?: number;
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
  const targets = openTargets(stage, hosts);
  for (const t of targets) t.executor.connect(); // SSH handshakes overlap reading the source
  const source = sourceFacts(stage);
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
            among: hosts,
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
    await targets.close();
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
  const revision = plans[0]?.meta.revision;
  const base = {
    release: releaseId,
    stage: stage.name,
    who,
    started,
    previous: plans[0]?.previous ?? null,
    revision: revision ? `${revision.commit}${revision.dirty ? "+dirty" : ""}` : null,
  };

  emit({ type: "phase", phase: `prepare release ${releaseId} on ${plural(locked.length, "host")}` });
  const prep = await prepareAll(
    locked,
    (t, stopped) => prepareHost(planOf(t), stage, t.executor, emit, stopped),
    options.parallel,
    signal,
  );
  if (prep.error) {
    const outcome = exitFor(prep.error) === EXIT.interrupted ? "aborted" : "failed";
    await Promise.all(
      locked.map((t) =>
        recordFailure(
          t,
          planOf(t),
          prep.done.get(t)?.meta ?? planOf(t).meta,
          prep.error!.message,
          outcome,
          emit,
          started,
        ),
      ),
    );
    const hosts = locked.map(
      (t): HostOutcome => ({ host: t.host.name, state: "unchanged", serving: planOf(t).previous ?? null }),
    );
    return finish(base, hosts, [], prep.error, exitFor(prep.error));
  }
  const prepared = (t: LockedTarget) => prep.done.get(t)!;

  emit({ type: "phase", phase: `switch ${plural(locked.length, "host")} to ${releaseId}` });
  const switched = stage.rolling
    ? await switchRolling(locked, releaseId, stage.rolling, batchHooks(planOf, releaseId, emit), emit)
    : await switchTogether(locked, releaseId, emit);
  if (switched.error) {
    const hosts = await switchBackAll(locked, switched.outcomes, planOf, releaseId, emit, stage);
    const reason = switched.error.message;
    await Promise.all(
      locked.map((t) => recordFailure(t, planOf(t), prepared(t).meta, reason, "failed", emit, started)),
    );
    return finish(base, hosts, switched.outcomes, switched.error, EXIT.failed);
  }

  const stale = await resetAll(locked, stage, releaseId, emit);
  if (stale) {
    const hosts = await switchBackAll(locked, switched.outcomes, planOf, releaseId, emit, stage);
    await Promise.all(
      locked.map((t) =>
        recordFailure(t, planOf(t), prepared(t).meta, stale.message, "failed", emit, started),
      ),
    );
    return finish(base, hosts, switched.outcomes, stale, EXIT.failed);
  }

  const unhealthy = stage.healthCheck
    ? await healthAll(locked, stage.healthCheck, releaseId, emit)
    : undefined;
  if (unhealthy) {
    emit({ type: "phase", phase: "health check failed: switching every host back" });
    const hosts = await switchBackAll(locked, switched.outcomes, planOf, releaseId, emit, stage);
    const reason = unhealthy.message;
    await Promise.all(
      locked.map(async (t) => {
        await recordSwitchedBack(t, planOf(t), prepared(t).meta, reason, "bad", emit, started);
        const previous = planOf(t).previous;
        if (previous) {
          const scope = { ...planOf(t).hooks, release: previous, previous: releaseId };
          await tryHooks(
            t,
            "after_rollback hook",
            hookCmds(scope, "after_rollback", t.layout.release(previous)),
            emit,
          );
        }
      }),
    );
    return finish(base, hosts, switched.outcomes, unhealthy, EXIT.failed);
  }

  emit({ type: "phase", phase: "after switch" });
  const live = new Map(
    await Promise.all(
      locked.map(async (t) => [t, await recordLive(t, planOf(t), prepared(t).meta, emit, started)] as const),
    ),
  );
  const aborted = () => signal?.aborted === true;
  const hookErrors = aborted()
    ? []
    : await Promise.all(
        locked.map((t) =>
          tryHooks(
            t,
            "after_switch hook",
            hookCmds(planOf(t).hooks, "after_switch", t.layout.release(releaseId)),
            emit,
          ),
        ),
      );
  const hookError = hookErrors.find((e) => e !== undefined);
  if (hookError && stage.rollbackOn.includes("after_switch")) {
    emit({ type: "phase", phase: "after_switch failed: switching every host back (rollback_on)" });
    const hosts = await switchBackAll(locked, switched.outcomes, planOf, releaseId, emit, stage);
    const reason = `after_switch hook failed: ${hookError.message}`;
    await Promise.all(
      locked.map((t) => recordSwitchedBack(t, planOf(t), live.get(t)!, reason, "failed", emit, started)),
    );
    return finish(base, hosts, switched.outcomes, hookError, EXIT.failed);
  }

  const warnings = hookErrors.flatMap((e) => (e ? [e.message] : []));
  for (const w of warnings) emit({ type: "warning", message: w });
  if (aborted()) warnings.push("interrupted after the switch: after_switch hooks and cleanup were skipped");
  else
    warnings.push(
      ...(await Promise.all(locked.map((t) => prune(t, planOf(t), stage, live.get(t)!, emit)))).flat(),
    );
  const hosts = locked.map(
    (t): HostOutcome => ({
      host: t.host.name,
      state: "live",
      serving: releaseId,
      upload: prepared(t).upload,
    }),
  );
  return {
    ...finish(base, hosts, switched.outcomes, undefined, warnings.length > 0 ? EXIT.degraded : EXIT.ok),
    warnings,
  };
}

/** The health check on every host; the first failure, if any. */
async function healthAll(
  locked: readonly LockedTarget[],
  check: HealthCheck,
  release: string,
  emit: Emit,
): Promise<Error | undefined> {
  const errors = await Promise.all(
    locked.map((t) =>
      checkHealth(t, check, release, emit).then(
        () => undefined,
        (e: Error) => e,
      ),
    ),
  );
  return errors.find((e) => e !== undefined);
}

/** PHP caches on every host after the switch; the first host that still serves stale code fails it. */
async function resetAll(
  locked: readonly LockedTarget[],
  stage: ResolvedStage,
  release: string,
  emit: Emit,
): Promise<Error | undefined> {
  const errors = await Promise.all(
    locked.map((t) =>
      resetAndVerify(t, stage, release, emit).then(
        () => undefined,
        (e: Error) => e,
      ),
    ),
  );
  return errors.find((e) => e !== undefined);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

async function switchTogether(locked: readonly LockedTarget[], release: string, emit: Emit) {
  const outcomes = await switchAll(locked, release, emit);
  return { outcomes, error: outcomes.find((o) => !o.ok)?.error };
}

/** Every host that switched goes back to its previous release; reports what each host serves now. */
async function switchBackAll(
  locked: readonly LockedTarget[],
  outcomes: readonly SwitchOutcome[],
  planOf: (t: LockedTarget) => HostDeployPlan,
  release: string,
  emit: Emit,
  stage: ResolvedStage,
): Promise<HostOutcome[]> {
  emit({ type: "phase", phase: "switching back the hosts that switched" });
  return Promise.all(
    locked.map(async (t): Promise<HostOutcome> => {
      const previous = planOf(t).previous ?? null;
      const switched = outcomes.some((o) => o.target === t && o.ok);
      if (!switched) return { host: t.host.name, state: "unchanged", serving: previous };
      const back = await switchBack(t, release, previous ?? undefined, emit);
      if (back && previous) {
        await resetAndVerify(t, stage, previous, emit).catch((e: Error) =>
          emit({ type: "warning", host: t.host.name, message: e.message }),
        );
      }
      return { host: t.host.name, state: "switched-back", serving: back ? previous : release };
    }),
  );
}

function batchHooks(planOf: (t: LockedTarget) => HostDeployPlan, release: string, emit: Emit): BatchHooks {
  return {
    run: async (group, hook, batch) => {
      const env = {
        CUTOVER_BATCH: String(batch),
        CUTOVER_BATCH_HOSTS: group.map((t) => t.host.name).join(","),
      };
      const errors = await Promise.all(
        group.map((t) =>
          tryHooks(
            t,
            `${hook} hook`,
            hookCmds({ ...planOf(t).hooks, extraEnv: env }, hook, t.layout.release(release)),
            emit,
          ),
        ),
      );
      return errors.find((e) => e !== undefined);
    },
  };
}

function exitFor(error: Error): ExitCode {
  return error instanceof CutoverError && error.details.exitCode === EXIT.interrupted
    ? EXIT.interrupted
    : EXIT.failed;
}

function finish(
  base: {
    release: string;
    stage: string;
    who: string;
    started: Date;
    previous: string | null;
    revision: string | null;
  },
  hosts: HostOutcome[],
  outcomes: readonly SwitchOutcome[],
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
    previous: base.previous,
    revision: base.revision,
    durationMs: Date.now() - base.started.getTime(),
    hosts,
    filesTransferred: uploads.reduce((n, u) => n + u.filesTransferred, 0),
    bytesTransferred: uploads.reduce((n, u) => n + u.bytesTransferred, 0),
    switchSkewMs: skewMs(outcomes),
    warnings: [],
    error: error
      ? {
          message: error.message,
          detail: error instanceof CutoverError ? [...(error.details.detail ?? [])] : [],
        }
      : undefined,
  };
}
