import type { ReleaseMeta } from "../plan/release-meta.js";
import type { Phase, RunPlan } from "../plan/run.js";
import { type RecordContext, recordLive, removedWithRecords, type Unit } from "./finalize.js";
import type { LockedTarget, TrailingUnlock } from "./lock.js";

/**
 * The record phase: each host's records, with what may end their round trip (recordsTail); returns
 * the warnings of removals done with them, counted now (a signal from here on skips the prune phase).
 */
export async function recordPhase(
  rec: RecordContext,
  units: readonly Unit[],
  metaOf: (u: Unit) => ReleaseMeta,
  phase: Phase,
  unlock: ((t: LockedTarget) => TrailingUnlock) | undefined,
  interrupted: boolean,
): Promise<string[]> {
  // A record that failed (a full disk) leaves the metadata behind `current` until the next run
  // mends it: the run is degraded (exit 4), not ok.
  const failed = await Promise.all(
    units.map((u) =>
      recordLive(rec, u, metaOf(u), recordsTail(rec.plan, units, u, phase, unlock, interrupted)),
    ),
  );
  return [
    ...failed.filter((w): w is string => w !== undefined),
    ...units.flatMap((u) => removedWithRecords(u) ?? []),
  ];
}

/** The warning of a run interrupted before its after hooks: the removal may have gone with the records already. */
export function interruptedBeforeHooks(units: readonly Unit[], hook: string): string {
  const cleanup = units.some((u) => u.run.prune.length > 0 && removedWithRecords(u) === undefined);
  const removed = units.some((u) => removedWithRecords(u) !== undefined);
  return removed && !cleanup
    ? `interrupted after the switch: ${hook} hooks were skipped (the removal of old releases had already run with the records)`
    : `interrupted after the switch: ${hook} hooks and cleanup were skipped`;
}

/** What ends a host's records' round trip: the removal of old releases, then the lock's release. */
export interface RecordsTail {
  readonly unlock?: TrailingUnlock;
  readonly prune?: readonly string[];
}

/**
 * The end of u's records' round trip (`phase`): the removal of its old releases when nothing but
 * that removal would follow (no after hook on any host; not when the run was interrupted, which
 * skips the cleanup), and then its lock; else the lock when nothing at all would follow.
 */
export function recordsTail(
  plan: RunPlan,
  units: readonly Unit[],
  u: Unit,
  phase: Phase,
  unlock: ((t: LockedTarget) => TrailingUnlock) | undefined,
  interrupted: boolean,
): RecordsTail {
  const later = plan.phases.slice(plan.phases.indexOf(phase) + 1);
  const onlyRemoval =
    !interrupted &&
    u.run.prune.length > 0 &&
    later.every(
      (p) => p.kind === "prune" || (p.kind === "after" && units.every((v) => v.run.after.length === 0)),
    );
  if (!onlyRemoval) return { unlock: trailingUnlockAt(plan, units, u, phase, unlock) };
  return { prune: u.run.prune, unlock: unlock?.(u.t) };
}

/**
 * u's lock, to give back in its round trip of `phase` (records or removal) when nothing later in
 * the run may need the host: no after hook on any host (a failing one may switch every host back),
 * and no old release left to remove under the lock.
 */
export function trailingUnlockAt(
  plan: RunPlan,
  units: readonly Unit[],
  u: Unit,
  phase: Phase,
  unlock: ((t: LockedTarget) => TrailingUnlock) | undefined,
): TrailingUnlock | undefined {
  const later = plan.phases.slice(plan.phases.indexOf(phase) + 1);
  const done = later.every(
    (p) =>
      (p.kind === "after" && units.every((v) => v.run.after.length === 0)) ||
      (p.kind === "prune" && u.run.prune.length === 0),
  );
  return done ? unlock?.(u.t) : undefined;
}
