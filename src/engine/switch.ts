import type { Rolling } from "../config/resolve.js";
import { removeCurrent, switchTo } from "../plan/switch.js";
import type { Emit } from "./events.js";
import type { LockedTarget } from "./lock.js";
import { runStep, timed } from "./steps.js";

export interface SwitchOutcome {
  readonly target: LockedTarget;
  readonly ok: boolean;
  /** When the rename happened, by the host's clock (ms). */
  readonly at: number;
  readonly error?: Error;
}

async function switchOne(target: LockedTarget, release: string, emit: Emit): Promise<SwitchOutcome> {
  try {
    const { stdout } = await timed(emit, target.host.name, "switch current", () =>
      runStep({ executor: target.executor, emit }, "switch current", [switchTo(target.layout, release)]),
    );
    const ns = Number(stdout.toString().trim().split("\n").at(-1));
    return { target, ok: true, at: Number.isFinite(ns) && ns > 0 ? ns / 1e6 : Date.now() };
  } catch (error) {
    return { target, ok: false, at: Date.now(), error: error as Error };
  }
}

/** Switches hosts at once over the already-open sessions; reports each host's outcome. */
export function switchAll(
  targets: readonly LockedTarget[],
  release: string,
  emit: Emit,
): Promise<SwitchOutcome[]> {
  return Promise.all(targets.map((t) => switchOne(t, release, emit)));
}

export interface BatchHooks {
  run(
    targets: readonly LockedTarget[],
    hook: "before_batch" | "after_batch",
    batch: number,
  ): Promise<Error | undefined>;
}

export function batchSize(rolling: Rolling, hosts: number): number {
  const size =
    typeof rolling.batch === "number"
      ? rolling.batch
      : Math.ceil((Number.parseInt(rolling.batch, 10) / 100) * hosts);
  return Math.min(Math.max(size, 1), hosts);
}

/**
 * Rolling mode: batch after batch, with before_batch/after_batch hooks (drain and re-enable at the
 * load balancer) and a pause in between. Stops at the first failure; the caller switches back.
 */
export async function switchRolling(
  targets: readonly LockedTarget[],
  release: string,
  rolling: Rolling,
  hooks: BatchHooks,
  emit: Emit,
): Promise<{ outcomes: SwitchOutcome[]; error?: Error }> {
  const size = batchSize(rolling, targets.length);
  const outcomes: SwitchOutcome[] = [];
  for (let start = 0, batch = 1; start < targets.length; start += size, batch += 1) {
    const group = targets.slice(start, start + size);
    emit({ type: "phase", phase: `batch ${batch}: ${group.map((t) => t.host.name).join(", ")}` });
    const before = await hooks.run(group, "before_batch", batch);
    if (before) return { outcomes, error: before };
    const done = await switchAll(group, release, emit);
    outcomes.push(...done);
    const failed = done.find((o) => !o.ok);
    if (failed) return { outcomes, error: failed.error };
    const after = await hooks.run(group, "after_batch", batch);
    if (after) return { outcomes, error: after };
    if (start + size < targets.length && rolling.pauseSeconds > 0) {
      await new Promise((r) => setTimeout(r, rolling.pauseSeconds * 1000));
    }
  }
  return { outcomes };
}

/** Puts `current` back where it was on a host that had switched: the previous release, or no link at all. */
export async function switchBack(
  target: LockedTarget,
  switchedTo: string,
  previous: string | undefined,
  emit: Emit,
): Promise<boolean> {
  try {
    const cmds = previous ? [switchTo(target.layout, previous)] : [removeCurrent(target.layout, switchedTo)];
    await timed(emit, target.host.name, "switch back", () =>
      runStep({ executor: target.executor, emit }, "switch back", cmds),
    );
    return true;
  } catch (error) {
    emit({
      type: "warning",
      host: target.host.name,
      message: `could not switch back: ${(error as Error).message}`,
    });
    return false;
  }
}

export function skewMs(outcomes: readonly SwitchOutcome[]): number {
  const times = outcomes.filter((o) => o.ok).map((o) => o.at);
  return times.length > 1 ? Math.round((Math.max(...times) - Math.min(...times)) * 10) / 10 : 0;
}
