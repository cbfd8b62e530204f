import { nextReleaseId } from "./release-id.js";
import type { Snapshot, SnapshotFacts } from "./snapshot-facts.js";

/** Snapshot ids are UTC timestamps like release ids; a new one is newer than every name on the hosts. */
export function nextSnapshotId(now: Date, hosts: readonly SnapshotFacts[]): string {
  return nextReleaseId(
    now,
    hosts.flatMap((h) => h.taken),
  );
}

const complete = (f: SnapshotFacts) => f.snapshots.filter((s) => s.meta.state === "complete");

/** The newest complete snapshot: a new one hard-links its unchanged files to it. */
export function linkBase(f: SnapshotFacts): string | undefined {
  return complete(f).at(-1)?.id;
}

/**
 * What prune removes: partial snapshots (cut short: never restorable), work directories of an
 * interrupted restore, and complete snapshots beyond the newest `keep`.
 */
export function selectSnapshotPrune(f: SnapshotFacts, keep: number): string[] {
  const done = complete(f);
  const old = done.slice(0, Math.max(0, done.length - keep)).map((s) => s.id);
  const partial = f.snapshots.filter((s) => s.meta.state === "partial").map((s) => s.id);
  return [...partial, ...old, ...f.leftovers];
}

/** The snapshot taken before `release` was deployed: what `rollback --restore-shared` restores. */
export function snapshotBefore(f: SnapshotFacts, release: string): Snapshot | undefined {
  return complete(f)
    .filter((s) => s.meta.reason === "before-deploy" && s.meta.release === release)
    .at(-1);
}

export function findComplete(f: SnapshotFacts, id: string): Snapshot | undefined {
  return complete(f).find((s) => s.id === id);
}
