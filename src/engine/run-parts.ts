/** Pieces of the engine's run (run.ts): the switch phase with its batches, and work on every host at once. */
import { CutoverError } from "../errors.js";
import type { Phase, RunPlan } from "../plan/run.js";
import type { Emit } from "./events.js";
import type { Unit } from "./finalize.js";
import { tryHooks } from "./host-hooks.js";
import { runStep } from "./steps.js";
import { addSwitched, type SwitchOutcome, switchAll } from "./switch.js";

/**
 * Every batch in turn (one batch: every host at once): before_batch hooks, the switch, after_batch
 * hooks, the pause. Returns the first failure; `switched` holds the hosts whose `current` moved.
 */
export async function switchPhase(
  phase: Extract<Phase, { kind: "switch" }>,
  units: readonly Unit[],
  plan: RunPlan,
  emit: Emit,
  switched: Set<Unit>,
  outcomes: SwitchOutcome[],
): Promise<Error | undefined> {
  const rolling = phase.batches.length > 1;
  // A rollback has announced its switch ("switch N hosts back to ID", run.ts), batched or not.
  if (!rolling && plan.action === "deploy")
    emit({ type: "phase", phase: `switch ${plural(units.length, "host")} to ${plan.release}` });
  for (const [i, names] of phase.batches.entries()) {
    const group = units.filter((u) => names.includes(u.t.host.name));
    if (rolling) emit({ type: "phase", phase: `batch ${i + 1}: ${names.join(", ")}` });
    const before = await batchHooks(group, "before_batch", emit);
    if (before) return before;
    const done = await switchAll(group, emit);
    outcomes.push(...done);
    // An in-place upload that failed may have renamed some files already: it is undone too.
    await addSwitched(done, plan.release, switched);
    const failed = done.find((o) => !o.ok);
    if (failed) return failed.error;
    const after = await batchHooks(group, "after_batch", emit);
    if (after) return after;
    if (i < phase.batches.length - 1 && phase.pauseSeconds > 0)
      await new Promise((r) => setTimeout(r, phase.pauseSeconds * 1000));
  }
  return undefined;
}

export async function batchHooks(
  group: readonly Unit[],
  hook: "before_batch" | "after_batch",
  emit: Emit,
): Promise<Error | undefined> {
  const errors = await Promise.all(
    group.map((u) =>
      tryHooks(u, `${hook} hook`, hook === "before_batch" ? u.run.beforeBatch : u.run.afterBatch, emit),
    ),
  );
  return errors.find((e) => e !== undefined);
}

/** A deploy's snapshot of shared/ on every host that takes one (snapshots.before_deploy). */
export function snapshotPhase(units: readonly Unit[], emit: Emit): Promise<Error | undefined> {
  emit({ type: "phase", phase: "snapshot shared/" });
  return firstFailure(units, async (u) => {
    if (u.run.snapshot.length > 0)
      await runStep({ executor: u.t.executor, emit }, "snapshot shared/", u.run.snapshot);
  });
}

/** Runs `work` on every host at once; the first failure, if any (the others still finish). */
export async function firstFailure(
  units: readonly Unit[],
  work: (u: Unit) => Promise<unknown>,
): Promise<Error | undefined> {
  const errors = await Promise.all(
    units.map((u) =>
      work(u).then(
        () => undefined,
        (e: Error) => e,
      ),
    ),
  );
  return errors.find((e) => e !== undefined);
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * A rollback's restore of shared/ that failed on a host: its program's last words say what became
 * of shared/ (not changed, or some SQLite databases already restored in place), so they are passed on.
 */
export function restoreFailure(error: Error): string {
  const said = error instanceof CutoverError ? error.details.detail?.at(-1) : undefined;
  return `${error.message}; the code was switched back; ${said ?? "shared/ may be partly restored: `cutover snapshot list` warns if so"}`;
}
