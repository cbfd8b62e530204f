/** The switch phase of a rolling run behind a balancer: each batch out of service while it changes. */
import type { ResolvedStage } from "../config/resolve.js";
import type { BatchDrain } from "../plan/balancer.js";
import { sessionsOf } from "../plan/balancer.js";
import type { Phase, RunPlan } from "../plan/run.js";
import type { BalancerLink } from "./balancer.js";
import { backInService, markDrained, reclaimOwnDrains, unmarkDrained } from "./drain-marks.js";
import type { Emit } from "./events.js";
import type { Unit } from "./finalize.js";
import { checkHealth } from "./health.js";
import type { HostOutcome } from "./outcome.js";
import { resetAndVerify } from "./php-runtime.js";
import { batchHooks, firstFailure } from "./run-parts.js";
import { runStep, timed } from "./steps.js";
import { addSwitched, type SwitchOutcome, switchAll, switchBackAll } from "./switch.js";

export interface DrainedFailure {
  readonly error: Error;
  /** A failed health check (the release is bad) rather than a failed step. */
  readonly unhealthy: boolean;
  /** The batch still out of service: back in service once it is switched back. */
  readonly out?: BatchDrain;
}

/** Waits until the batch's servers have no sessions, or the drain timeout passes (then a warning). */
export async function waitIdle(
  link: BalancerLink,
  drain: BatchDrain,
  emit: Emit,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + drain.timeoutSeconds * 1000;
  await timed(emit, "balancer", `wait for ${drain.servers.join(", ")} to finish their sessions`, async () => {
    for (;;) {
      const { stdout } = await runStep({ executor: link.executor, emit }, "read sessions", [drain.sessions]);
      const left = sessionsOf(link.config, drain, stdout.toString("utf8"));
      if (left === 0 || signal?.aborted) return;
      if (Date.now() > deadline) {
        emit({
          type: "warning",
          message: `balancer: ${drain.servers.join(", ")} still had ${left} session(s) after drain_timeout (${drain.timeoutSeconds} s); deploying anyway`,
        });
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  });
}

/** After a failed batch was never switched: back in service, its marks removed (a failure is a warning). */
export async function putBack(
  link: BalancerLink,
  drain: BatchDrain,
  units: readonly Unit[],
  emit: Emit,
): Promise<void> {
  const group = units.filter((u) => drain.servers.includes(link.config.servers.get(u.t.host.name)!));
  await backInService(link, drain, group, emit);
}

function balancerStep(link: BalancerLink, title: string, c: BatchDrain["out"], emit: Emit) {
  return timed(emit, "balancer", title, () => runStep({ executor: link.executor, emit }, title, [c]));
}

/**
 * Per batch: before_batch hooks, its servers out of service, their sessions ended, the switch, the
 * PHP reset (a php-fpm reload is safe now: no request is in flight), the health check, back in
 * service, after_batch hooks. The first failure stops it with the batch still out of service.
 */
export async function drainedSwitchPhase(
  phase: Extract<Phase, { kind: "switch" }>,
  units: readonly Unit[],
  plan: RunPlan,
  link: BalancerLink,
  emit: Emit,
  switched: Set<Unit>,
  outcomes: SwitchOutcome[],
  signal?: AbortSignal,
): Promise<DrainedFailure | undefined> {
  try {
    await reclaimOwnDrains(link, units, emit);
  } catch (error) {
    return { error: error as Error, unhealthy: false };
  }
  for (const [i, names] of phase.batches.entries()) {
    const drain = phase.drains![i]!;
    const group = units.filter((u) => names.includes(u.t.host.name));
    if (signal?.aborted) return { error: new Error("interrupted"), unhealthy: false };
    emit({ type: "phase", phase: `batch ${i + 1}: ${names.join(", ")} (out of the balancer)` });
    const before = await batchHooks(group, "before_batch", emit);
    if (before) return { error: before, unhealthy: false };
    try {
      await markDrained(link, group, emit);
    } catch (error) {
      return { error: error as Error, unhealthy: false };
    }
    try {
      await balancerStep(link, `take ${drain.servers.join(", ")} out of service`, drain.out, emit);
    } catch (error) {
      // A batch of HAProxy commands may have applied in part: those servers go back in service.
      await backInService(link, drain, group, emit);
      return { error: error as Error, unhealthy: false };
    }
    const failed = await switchDrained(group, drain, link, plan, emit, switched, outcomes, signal);
    if (failed) {
      if (!failed.unhealthy || phase.switchBackOnFailure) return failed;
      emit({ type: "warning", message: failed.error.message });
    }
    try {
      await balancerStep(link, `put ${drain.servers.join(", ")} back in service`, drain.ready, emit);
    } catch (error) {
      return { error: error as Error, unhealthy: false };
    }
    await unmarkDrained(group, emit);
    const after = await batchHooks(group, "after_batch", emit);
    if (after) return { error: after, unhealthy: false };
    if (i < phase.batches.length - 1 && phase.pauseSeconds > 0)
      await new Promise((r) => setTimeout(r, phase.pauseSeconds * 1000));
  }
  return undefined;
}

/** Waits out the sessions, switches the batch, resets PHP and checks its health. */
async function switchDrained(
  group: readonly Unit[],
  drain: BatchDrain,
  link: BalancerLink,
  plan: RunPlan,
  emit: Emit,
  switched: Set<Unit>,
  outcomes: SwitchOutcome[],
  signal?: AbortSignal,
): Promise<DrainedFailure | undefined> {
  try {
    await waitIdle(link, drain, emit, signal);
  } catch (error) {
    return { error: error as Error, unhealthy: false, out: drain };
  }
  // A signal while the batch drained: it is not switched (the engine reports the interruption).
  if (signal?.aborted) return { error: new Error("interrupted"), unhealthy: false, out: drain };
  const done = await switchAll(group, emit);
  outcomes.push(...done);
  await addSwitched(done, plan.release, switched);
  const failed = done.find((o) => !o.ok);
  if (failed) return { error: failed.error!, unhealthy: false, out: drain };
  const stage = plan.stage;
  const reset = await firstFailure(group, (u) => resetAndVerify(u.t, stage, plan.release, emit));
  if (reset) return { error: reset, unhealthy: false, out: drain };
  if (!stage.healthCheck) return undefined;
  const sick = await firstFailure(group, (u) =>
    checkHealth(u.t, stage.healthCheck!, plan.release, emit, signal),
  );
  return sick ? { error: sick, unhealthy: true, out: drain } : undefined;
}

/**
 * The switch back of a drained run: batch by batch, each out of service while `current` goes back
 * and PHP is reset, then back in service. `out` (a failed batch still out of service) is not taken
 * out again. What each host serves afterwards, as switchBackAll reports it.
 */
export async function drainedSwitchBack(
  phase: Extract<Phase, { kind: "switch" }>,
  units: readonly Unit[],
  switched: ReadonlySet<Unit>,
  release: string,
  stage: ResolvedStage,
  link: BalancerLink,
  emit: Emit,
  out: BatchDrain | undefined,
): Promise<HostOutcome[]> {
  const outcomes = new Map<Unit, HostOutcome>();
  // The batch already out goes back in service first: never more out at once than a batch.
  const order = phase.batches
    .map((names, i) => ({ names, drain: phase.drains![i]! }))
    .sort((a, b) => Number(b.drain === out) - Number(a.drain === out));
  for (const { names, drain } of order) {
    const group = units.filter((u) => names.includes(u.t.host.name));
    if (!group.some((u) => switched.has(u))) {
      // The failed batch, out of service but never switched (stopped in its drain): back in service.
      if (drain === out) await backInService(link, drain, group, emit);
      continue;
    }
    // A batch that cannot be drained is still switched back (undrained, with a warning).
    if (drain !== out)
      await markDrained(link, group, emit)
        .then(() => balancerStep(link, `take ${drain.servers.join(", ")} out of service`, drain.out, emit))
        .then(() => waitIdle(link, drain, emit))
        .catch((e: Error) => emit({ type: "warning", message: `balancer: ${e.message}` }));
    const hosts = await switchBackAll(group, switched, release, stage, emit);
    for (const [j, u] of group.entries()) outcomes.set(u, hosts[j]!);
    // A host whose switch back failed still serves the release that failed its checks: its batch
    // stays out (marked as cutover's drain, so the next run names that release and changes nothing).
    const stuckUnits = group.filter((_, j) => hosts[j]!.serving === release);
    const stuck = stuckUnits.map((u) => u.t.host.name);
    if (stuck.length > 0) {
      await markDrained(link, stuckUnits, emit, release).catch((e: Error) =>
        emit({ type: "warning", message: `balancer: ${e.message}` }),
      );
      emit({
        type: "warning",
        message: `balancer: ${drain.servers.join(", ")} stay out of service: ${stuck.join(", ")} could not be switched back and still serve ${release}, which failed its checks; switch back there (\`cutover rollback --hosts ${stuck.join(",")}\` without balancer:), put them back in service and remove .cutover/drained.json there`,
      });
    } else await backInService(link, drain, group, emit);
  }
  return units.map(
    (u) => outcomes.get(u) ?? { host: u.t.host.name, state: "unchanged", serving: u.run.previous ?? null },
  );
}
