import type { ResolvedStage } from "../config/resolve.js";
import { EXIT } from "../errors.js";
import { type HostDeployPlan, planDeploy } from "../plan/deploy.js";
import { hookCmds } from "../plan/hooks.js";
import { findLeftovers, isEmpty } from "../plan/reconcile.js";
import { nextReleaseId } from "../plan/release-id.js";
import { revisionText } from "../plan/release-meta.js";
import { batchHooks, switchBackAll, switchTogether } from "./deploy-switch.js";
import type { Emit } from "./events.js";
import { prune, recordFailure, recordLive, recordSwitchedBack, tryHooks } from "./finalize.js";
import { checkHealth } from "./health.js";
import { type LockedTarget, lockAll, newOwner, undoCreated, unlockAll } from "./lock.js";
import { type DeployResult, describeLeftovers, exitFor, finish, type HostOutcome } from "./outcome.js";
import { refuseUnsafeReload, resetAndVerify } from "./php-runtime.js";
import { prepareHost } from "./prepare.js";
import { prepareAll } from "./prepare-all.js";
import { sourceFacts, whoAmI } from "./source.js";
import { switchRolling } from "./switch.js";
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
  /** Go ahead where cutover would refuse: reset: reload on a php-fpm that kills requests on reload. */
  readonly force?: boolean;
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
        await refuseUnsafeReload(locked, stage, options.force ?? false, emit);
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
  const base = {
    release: releaseId,
    stage: stage.name,
    who,
    started,
    previous: plans[0]?.previous ?? null,
    revision: revisionText(plans[0]?.meta.revision),
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

  const stale = await firstFailure(locked, (t) => resetAndVerify(t, stage, releaseId, emit));
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
    ? await firstFailure(locked, (t) => checkHealth(t, stage.healthCheck!, releaseId, emit))
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

/** Runs `work` on every host at once; the first failure, if any (the others still finish). */
async function firstFailure(
  locked: readonly LockedTarget[],
  work: (t: LockedTarget) => Promise<unknown>,
): Promise<Error | undefined> {
  const errors = await Promise.all(
    locked.map((t) =>
      work(t).then(
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
