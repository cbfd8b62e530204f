import type { ResolvedHost, ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT } from "../errors.js";
import type { Cmd } from "../shell/cmd.js";
import { type Layout, layout } from "./layout.js";
import { appendHistory, pathEntry } from "./records.js";
import { createSnapshot, removeSnapshots } from "./snapshot-cmds.js";
import type { SnapshotFacts } from "./snapshot-facts.js";
import type { SnapshotMeta } from "./snapshot-meta.js";
import { restoreSnapshot } from "./snapshot-restore.js";
import { linkBase, selectSnapshotPrune, snapshotBefore } from "./snapshot-select.js";

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
  /** The configured shared paths: one that is a symlink would be snapshotted as the link alone. */
  readonly sharedPaths: readonly string[];
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
  return createSnapshot(input.layout, meta, linkBase(input.facts), input.sharedPaths);
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
  return [
    snapshotCmd({ ...input, reason: "before-restore" }),
    restoreSnapshot(input.layout, restore, input.id),
  ];
}

/** Each host's snapshots (by host name) and the id a new snapshot gets on all of them. */
export interface SnapshotState {
  readonly id: string;
  readonly facts: ReadonlyMap<string, SnapshotFacts>;
}

export function snapshotInput(
  stage: ResolvedStage,
  host: ResolvedHost,
  snaps: SnapshotState,
  who: string,
  now: string,
  live: string | undefined,
): Omit<SnapshotInput, "reason"> {
  const facts = snaps.facts.get(host.name);
  if (!facts) throw new Error(`no snapshot facts for host ${host.name}`);
  const sharedPaths = [...stage.sharedDirs, ...stage.sharedFiles];
  return { layout: layout(host.path), facts, id: snaps.id, stage: stage.name, who, now, live, sharedPaths };
}

/**
 * rollback --restore-shared on one host: shared/ back as it was before `live` was deployed, from
 * the newest complete snapshot taken before that deploy. None on a host: an error before anything
 * is switched anywhere.
 */
export function restoreSharedCmds(
  stage: ResolvedStage,
  host: ResolvedHost,
  live: string,
  snaps: SnapshotState & { readonly who: string },
  now: string,
): Cmd[] {
  const input = snapshotInput(stage, host, snaps, snaps.who, now, live);
  const before = snapshotBefore(input.facts, live);
  if (!before)
    throw refusal(
      `${host.name}: no complete snapshot taken before ${live} was deployed, so --restore-shared has nothing to restore`,
      "roll back without --restore-shared, or restore one by id (`cutover snapshot list`, `cutover snapshot restore ID`)",
    );
  if (input.facts.shared !== "dir")
    throw refusal(
      `${host.name}: ${host.path}/shared is ${input.facts.shared === "missing" ? "missing" : `a ${input.facts.shared}`}, not a directory`,
    );
  // As `snapshot restore` does: shared/ was replaced, and where the replaced one went is history.
  const entry = pathEntry({
    event: "restore-shared",
    outcome: "ok",
    stage: stage.name,
    host: host.name,
    release: live,
    who: snaps.who,
    at: now,
    reason: `rollback: shared/ restored from snapshot ${before.id}, taken before ${live} was deployed; the replaced shared/ is snapshot ${input.id}`,
  });
  return [
    ...restoreCmds({ ...input, reason: "before-restore" }, before.id),
    appendHistory(input.layout, entry),
  ];
}

function refusal(message: string, fix?: string): CutoverError {
  return new CutoverError("rollback", message, { fix, exitCode: EXIT.failed });
}
