import type { Cmd } from "../shell/cmd.js";
import type { Layout } from "./layout.js";
import { createSnapshot, removeSnapshots, restoreSnapshot } from "./snapshot-cmds.js";
import type { SnapshotFacts } from "./snapshot-facts.js";
import type { SnapshotMeta } from "./snapshot-meta.js";
import { linkBase, selectSnapshotPrune } from "./snapshot-select.js";

export interface SnapshotInput {
  readonly layout: Layout;
  readonly facts: SnapshotFacts;
  readonly id: string;
  readonly reason: SnapshotMeta["reason"];
  readonly stage: string;
  readonly who: string;
  readonly now: string;
  readonly live: string | undefined;
  readonly release?: string;
}

/** One host's new snapshot: hard-linked to its newest complete one. */
export function snapshotCmd(input: SnapshotInput): Cmd {
  const meta: SnapshotMeta = {
    id: input.id,
    state: "partial",
    reason: input.reason,
    stage: input.stage,
    who: input.who,
    created_at: input.now,
    live: input.live ?? null,
    release: input.release ?? null,
  };
  return createSnapshot(input.layout, meta, linkBase(input.facts));
}

/**
 * A snapshot, then the removal of what `keep` no longer covers (the new one counts, so the oldest
 * complete one beyond keep - 1 goes); partial ones and interrupted restores go too.
 */
export function snapshotAndPrune(input: SnapshotInput, keep: number): Cmd[] {
  const prune = selectSnapshotPrune(input.facts, Math.max(keep - 1, 0));
  return [snapshotCmd(input), ...(prune.length > 0 ? [removeSnapshots(input.layout, prune)] : [])];
}

/** A restore takes a snapshot of the live shared/ first, so the restore itself can be undone. */
export function restoreCmds(input: SnapshotInput, restore: string): Cmd[] {
  return [snapshotCmd({ ...input, reason: "before-restore" }), restoreSnapshot(input.layout, restore)];
}
