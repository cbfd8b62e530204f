import { CutoverError, EXIT } from "../errors.js";
import type { BatchDrain } from "../plan/balancer.js";
import { type ReleaseMeta, revisionText } from "../plan/release-meta.js";
import type { Phase, RunPlan } from "../plan/run.js";
import type { BalancerLink } from "./balancer.js";
import { type SourceIndex, sourceIndexOnce } from "./delta-upload.js";
import { type DrainedFailure, drainedSwitchBack, drainedSwitchPhase, putBack } from "./drained.js";
import type { Emit } from "./events.js";
import {
  prune,
  type RecordContext,
  recordLive,
  recordNotSwitched,
  recordSwitchedBack,
  type Unit,
} from "./finalize.js";
import { checkHealth } from "./health.js";
import { softHooks, tryHooks } from "./host-hooks.js";
import type { LockedTarget, TrailingUnlock } from "./lock.js";
import { type DeployResult, exitFor, finish, type HostOutcome } from "./outcome.js";
import { resetAndVerify } from "./php-runtime.js";
import { type Prepared, prepareHost } from "./prepare.js";
import { prepareAll } from "./prepare-all.js";
import { checkPhase } from "./rollback-check.js";
import { firstFailure, plural, restoreFailure, snapshotPhase, switchPhase } from "./run-parts.js";
import { interruptedBeforeHooks, recordPhase, trailingUnlockAt } from "./run-tail.js";
import { runStep } from "./steps.js";
import { type SwitchOutcome, switchBackAll } from "./switch.js";
import { interruptOnSignal } from "./targets.js";

export interface RunOptions {
  readonly emit: Emit;
  readonly signal?: AbortSignal;
  /** Hosts prepared at the same time (default: all). */
  readonly parallel?: number;
  readonly clock: () => Date;
  readonly started: Date;
  readonly who: string;
  /** The balancer a rolling run takes batches out of (plan phases with `drains`). */
  readonly balancer?: BalancerLink;
  /** The source's index for delta uploads, maybe already being made (default: made when first needed). */
  readonly sourceIndex?: SourceIndex;
  /** Gives a host's lock back in its last round trip (finalize.ts); the caller's unlockAll skips it. */
  readonly unlock?: (t: LockedTarget) => TrailingUnlock;
}

const interrupted = (when: string) =>
  new CutoverError("interrupted", `interrupted by a signal ${when}`, { exitCode: EXIT.interrupted });

/**
 * The one engine for deploy and rollback: applies a RunPlan phase by phase over the locked hosts
 * (plan.hosts[i] is locked[i]). Before the switch a failure or a signal ends the run with nothing
 * switched. After it, a failure switches every host that switched back (one routine, with the PHP
 * reset). A signal stops what may take long (hooks, the health check: their whole process groups
 * on the hosts); during the health check or between batches that undoes the switch, since the
 * release was never verified; the switch itself, the PHP reset and the records always finish.
 */
export async function applyRun(
  plan: RunPlan,
  locked: readonly LockedTarget[],
  options: RunOptions,
): Promise<DeployResult> {
  const { emit, signal, clock } = options;
  const units: Unit[] = plan.hosts.map((run, i) => ({ run, t: locked[i]! }));
  const rec: RecordContext = { plan, emit, clock, started: options.started };
  const stage = plan.stage;
  const first = units[0]!.run;
  const base = {
    release: plan.release,
    stage: stage.name,
    who: options.who,
    started: options.started,
    previous: first.previous ?? null,
    revision: revisionText(first.meta.revision),
  };
  const prepared = new Map<Unit, Prepared>();
  // What a host learnt while preparing (the commit's details) is recorded even when its prepare failed.
  const learnt = new Map<Unit, ReleaseMeta>();
  const metaOf = (u: Unit) => prepared.get(u)?.meta ?? learnt.get(u) ?? u.run.meta;
  const switched = new Set<Unit>();
  const outcomes: SwitchOutcome[] = [];
  let recorded = false;
  const warnings: string[] = [];
  const aborted = () => signal?.aborted === true;
  /** Runs work that a signal may stop: the running steps on every host are killed, and the error says so. */
  const interruptible = async (when: string, work: () => Promise<Error | undefined>) => {
    const stopInterrupting = interruptOnSignal(
      units.map((u) => u.t),
      signal,
    );
    try {
      const error = await work();
      return aborted() ? interrupted(when) : error;
    } finally {
      stopInterrupting();
    }
  };

  const notSwitched = async (error: Error) => {
    const outcome = exitFor(error) === EXIT.interrupted ? "aborted" : "failed";
    await Promise.all(units.map((u) => recordNotSwitched(rec, u, metaOf(u), error.message, outcome)));
    const hosts = units.map(
      (u): HostOutcome => ({ host: u.t.host.name, state: "unchanged", serving: u.run.previous ?? null }),
    );
    return finish(base, hosts, [], error, exitFor(error));
  };
  // Behind a balancer, a switch back is drained too (a php-fpm reload meets no request in flight).
  const drained = options.balancer
    ? plan.phases.find(
        (p): p is Extract<Phase, { kind: "switch" }> => p.kind === "switch" && p.drains !== undefined,
      )
    : undefined;
  /** The batch a drained switch phase left out of service when it failed. */
  let outOfService: BatchDrain | undefined;
  const switchBack = async (error: Error, state: "failed" | "bad", afterHooks: boolean) => {
    if (switched.size === 0) {
      if (outOfService) await putBack(options.balancer!, outOfService, units, emit);
      return notSwitched(error);
    }
    const hosts = drained
      ? await drainedSwitchBack(
          drained,
          units,
          switched,
          plan.release,
          stage,
          options.balancer!,
          emit,
          outOfService,
        )
      : await switchBackAll(units, switched, plan.release, stage, emit);
    const outcome = exitFor(error) === EXIT.interrupted ? "aborted" : "failed";
    await Promise.all(
      units.map(async (u, i) => {
        if (hosts[i]!.serving === plan.release) {
          await recordLive(rec, u, metaOf(u), {
            failure: `${error.message}; could not switch this host back`,
          });
          return;
        }
        if (!switched.has(u) || (plan.action === "deploy" && !recorded && state === "failed"))
          await recordNotSwitched(rec, u, metaOf(u), error.message, outcome);
        else await recordSwitchedBack(rec, u, metaOf(u), error.message, state, recorded, outcome);
        if (afterHooks) await softHooks(u, "after_rollback hook", u.run.afterSwitchBack, emit);
      }),
    );
    return finish(base, hosts, outcomes, error, exitFor(error));
  };

  const unlockAt = (u: Unit, phase: Phase) => trailingUnlockAt(plan, units, u, phase, options.unlock);
  for (const phase of plan.phases) {
    if (!switched.size && aborted()) return notSwitched(interrupted("before the switch"));
    switch (phase.kind) {
      case "clean": {
        const error = await firstFailure(units, async (u) => {
          if (u.run.clean.length > 0)
            await runStep(
              { executor: u.t.executor, emit },
              "clean up what an interrupted run left",
              u.run.clean,
            );
        });
        if (error) return notSwitched(error);
        break;
      }
      case "snapshot":
      case "check": {
        const check = phase.kind === "check";
        const error = await interruptible(check ? "while checking the release" : "during the snapshot", () =>
          check ? checkPhase(units, plan, emit) : snapshotPhase(units, emit),
        );
        if (error) return notSwitched(error);
        break;
      }
      case "prepare": {
        emit({ type: "phase", phase: `prepare release ${plan.release} on ${plural(units.length, "host")}` });
        const index = options.sourceIndex ?? sourceIndexOnce();
        const prep = await prepareAll(
          units,
          (u, stopped) =>
            prepareHost(u.run, stage, u.t.executor, emit, stopped, index, (m) => learnt.set(u, m)),
          options.parallel,
          signal,
        );
        // Uploads that were not deltas (or none at all): the index's hashes are kept all the same.
        index.handedOver();
        for (const [u, p] of prep.done) prepared.set(u, p);
        if (prep.error) return notSwitched(prep.error);
        break;
      }
      case "switch": {
        // A deploy's switch is announced by switchPhase (or its batches); a rollback's here, after its check.
        if (plan.action === "rollback")
          emit({ type: "phase", phase: `switch ${plural(units.length, "host")} back to ${plan.release}` });
        if (phase.drains && options.balancer) {
          const link = options.balancer;
          let failure: DrainedFailure | undefined;
          const error = await interruptible("during the switch", async () => {
            failure = await drainedSwitchPhase(phase, units, plan, link, emit, switched, outcomes, signal);
            return failure?.error;
          });
          if (!error) break;
          const unhealthy = failure?.unhealthy === true;
          if (unhealthy) emit({ type: "phase", phase: "health check failed: switching every host back" });
          outOfService = failure?.out;
          return switchBack(error, unhealthy ? "bad" : "failed", unhealthy);
        }
        const error = await interruptible("during the switch", () =>
          switchPhase(phase, units, plan, emit, switched, outcomes),
        );
        if (error) return switchBack(error, "failed", false);
        break;
      }
      case "php-reset": {
        const error = await firstFailure(units, (u) => resetAndVerify(u.t, stage, plan.release, emit));
        if (error) return switchBack(error, "failed", false);
        break;
      }
      case "restore-shared": {
        emit({ type: "phase", phase: "restore shared/" });
        const error = await firstFailure(units, (u) =>
          runStep({ executor: u.t.executor, emit }, "restore shared/", u.run.restoreShared),
        );
        if (error) {
          const message = restoreFailure(error);
          emit({ type: "warning", message });
          warnings.push(message);
        }
        break;
      }
      case "health": {
        const error = await interruptible("during the health check", () =>
          firstFailure(units, (u) => checkHealth(u.t, stage.healthCheck!, plan.release, emit, signal)),
        );
        if (error instanceof CutoverError && error.code === "interrupted") {
          emit({
            type: "phase",
            phase: "interrupted before the release was verified: switching every host back",
          });
          return switchBack(error, "failed", false);
        }
        if (error && !phase.switchBackOnFailure) {
          emit({ type: "warning", message: error.message });
          warnings.push(error.message);
        } else if (error) {
          emit({ type: "phase", phase: "health check failed: switching every host back" });
          return switchBack(error, "bad", true);
        }
        break;
      }
      case "record": {
        emit({ type: "phase", phase: plan.action === "deploy" ? "after switch" : "record" });
        warnings.push(...(await recordPhase(rec, units, metaOf, phase, options.unlock, aborted())));
        recorded = true;
        break;
      }
      case "after": {
        if (aborted()) {
          warnings.push(interruptedBeforeHooks(units, phase.hook));
          break;
        }
        let errors: (Error | undefined)[] = [];
        const stopped = await interruptible("after the switch", async () => {
          errors = await Promise.all(units.map((u) => tryHooks(u, `${phase.hook} hook`, u.run.after, emit)));
          return undefined;
        });
        if (stopped) {
          warnings.push(`interrupted after the switch: ${phase.hook} hooks were stopped, cleanup skipped`);
          break;
        }
        const error = errors.find((e) => e !== undefined);
        if (error && phase.switchBackOnFailure) {
          emit({ type: "phase", phase: `${phase.hook} failed: switching every host back (rollback_on)` });
          return switchBack(new Error(`${phase.hook} hook failed: ${error.message}`), "failed", false);
        }
        for (const e of errors) if (e) emit({ type: "warning", message: e.message });
        warnings.push(...errors.flatMap((e) => (e ? [e.message] : [])));
        break;
      }
      case "prune": {
        if (aborted()) break;
        warnings.push(...(await Promise.all(units.map((u) => prune(u, emit, unlockAt(u, phase))))).flat());
        break;
      }
    }
  }
  for (const w of warnings) if (w.startsWith("interrupted")) emit({ type: "warning", message: w });
  const hosts = units.map(
    (u): HostOutcome => ({
      host: u.t.host.name,
      state: "live",
      serving: plan.release,
      upload: prepared.get(u)?.upload,
    }),
  );
  return {
    ...finish(base, hosts, outcomes, undefined, warnings.length > 0 ? EXIT.degraded : EXIT.ok),
    warnings,
  };
}
