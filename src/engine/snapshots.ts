import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT } from "../errors.js";
import type { HostFacts } from "../plan/facts.js";
import { layout } from "../plan/layout.js";
import { liveRelease } from "../plan/reconcile.js";
import { appendHistory, pathEntry } from "../plan/records.js";
import { removeSnapshots } from "../plan/snapshot-cmds.js";
import type { SnapshotFacts } from "../plan/snapshot-facts.js";
import type { SnapshotMeta } from "../plan/snapshot-meta.js";
import { restoreCmds, snapshotCmd } from "../plan/snapshot-plan.js";
import { findComplete, nextSnapshotId, selectSnapshotPrune } from "../plan/snapshot-select.js";
import type { Cmd } from "../shell/cmd.js";
import type { Emit } from "./events.js";
import { onEveryHost } from "./every-host.js";
import { lockAll, newOwner, readFacts, undoCreated, unlockAll } from "./lock.js";
import { readSnapshots, sqlitePaths, swapOf } from "./snapshot-read.js";
import { whoAmI } from "./source.js";
import { runStep } from "./steps.js";
import { interruptOnSignal, openTargets, selectHosts, type Target } from "./targets.js";

export interface SnapshotOptions {
  readonly hosts?: readonly string[];
  readonly emit: Emit;
  readonly command: string;
  readonly lockWaitSeconds?: number;
  readonly signal?: AbortSignal;
  /** Only say what would run: read-only, no lock. */
  readonly dryRun?: boolean;
}

/** One host's part of a snapshot command: what it ran (or would run), and what came of it. */
export interface SnapshotRow {
  readonly host: string;
  /** The snapshot made or restored (create, restore). */
  readonly id?: string;
  /** restore: the snapshot of shared/ taken just before it, so the restore can be undone. */
  readonly saved?: string;
  /**
   * restore: one rename exchange, or two renames where the host lacks it (a window without shared/);
   * unrecorded: shared/ is the restored tree, but the record of how was lost (a full disk).
   */
  readonly swap?: "exchange" | "renames" | "unrecorded";
  /** create: SQLite databases copied with the online backup; restore: those restored in place. */
  readonly sqlite?: readonly string[];
  /** prune: snapshots removed (or, in a dry run, to be removed). */
  readonly removed?: readonly string[];
  /** Dry run: the commands, rendered by the CLI. */
  readonly cmds?: readonly Cmd[];
}

interface HostState {
  readonly t: Target;
  readonly facts: HostFacts;
  readonly snaps: SnapshotFacts;
}

/**
 * Reads every host (under the lock unless a dry run), lets `plan` decide each host's commands, and
 * runs them on every host at once. A signal stops the running programs on the hosts (a snapshot cut
 * short stays `partial`: never restored, removed by prune); the lock is always given back.
 */
async function snapshotRun(
  title: string,
  /** What a signal leaves behind on a host, said with the interruption. */
  cutShort: string,
  stage: ResolvedStage,
  options: SnapshotOptions,
  plan: (hosts: readonly HostState[], now: Date) => (h: HostState) => Cmd[],
  finish: (h: HostState, stdout: Buffer[]) => SnapshotRow,
): Promise<SnapshotRow[]> {
  const { emit, signal } = options;
  const targets = openTargets(stage, selectHosts(stage, options.hosts));
  const now = new Date();
  try {
    const read = async (t: Target, facts: HostFacts): Promise<HostState> => ({
      t,
      facts,
      snaps: await readSnapshots(t, emit),
    });
    if (options.dryRun) {
      const hosts = await onEveryHost(targets, async (t) => read(t, await readFacts(t, [])));
      const cmdsOf = plan(hosts, now);
      return hosts.map((h) => ({ ...finish(h, []), cmds: cmdsOf(h) }));
    }
    const owner = newOwner(whoAmI(), options.command, now);
    const locked = await lockAll(targets, {
      sharedPaths: [],
      owner,
      waitMs: (options.lockWaitSeconds ?? 0) * 1000,
      emit,
      signal,
    });
    const stopInterrupting = interruptOnSignal(locked, signal);
    try {
      const hosts = await onEveryHost(locked, (t) => read(t, t.facts));
      const cmdsOf = plan(hosts, now);
      const interrupted = (h: HostState) =>
        new CutoverError("interrupted", `${h.t.host.name}: interrupted by a signal`, {
          exitCode: EXIT.interrupted,
          state: cutShort,
        });
      // Every host finishes (or fails) before the lock is given back; then the first failure is thrown.
      const settled = await Promise.allSettled(
        hosts.map(async (h) => {
          const outputs: Buffer[] = [];
          try {
            // One step per program: a failure names the host and carries that program's stderr.
            for (const c of cmdsOf(h)) {
              if (signal?.aborted) throw interrupted(h);
              outputs.push((await runStep({ executor: h.t.executor, emit }, title, [c])).stdout);
            }
          } catch (error) {
            throw signal?.aborted ? interrupted(h) : error;
          }
          return finish(h, outputs);
        }),
      );
      const failed = settled.find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
      return settled.map((r) => (r as PromiseFulfilledResult<SnapshotRow>).value);
    } finally {
      stopInterrupting();
      await unlockAll(locked, owner, emit);
      await undoCreated(locked);
    }
  } finally {
    await targets.close();
  }
}

const SNAPSHOT_CUT_SHORT = "a snapshot cut short stays partial: never restored, removed by `snapshot prune`";

const metaInput = (stage: ResolvedStage, h: HostState, id: string, now: Date) => ({
  layout: layout(h.t.host.path),
  facts: h.snaps,
  id,
  stage: stage.name,
  who: whoAmI(),
  now: now.toISOString(),
  live: liveRelease(h.facts),
  sharedPaths: [...stage.sharedDirs, ...stage.sharedFiles],
});

/** `snapshot create`: a snapshot of shared/ on every host, one id for all. Nothing is pruned. */
export function createSnapshots(stage: ResolvedStage, options: SnapshotOptions): Promise<SnapshotRow[]> {
  let id = "";
  return snapshotRun(
    "snapshot shared/",
    SNAPSHOT_CUT_SHORT,
    stage,
    options,
    (hosts, now) => {
      id = nextSnapshotId(
        now,
        hosts.map((h) => h.snaps),
      );
      return (h) => [snapshotCmd({ ...metaInput(stage, h, id, now), reason: "manual" })];
    },
    (h, out) => ({ host: h.t.host.name, id, sqlite: out.flatMap(sqlitePaths) }),
  );
}

/**
 * `snapshot restore ID`: on every host, after checking that the snapshot is complete on all of them
 * (or nothing is changed): a snapshot of the live shared/, then the restore (copied next to shared/,
 * swapped in by one rename exchange).
 */
export function restoreSnapshots(
  stage: ResolvedStage,
  id: string,
  options: SnapshotOptions,
): Promise<SnapshotRow[]> {
  let saved = "";
  return snapshotRun(
    `restore snapshot ${id}`,
    // Cut short while it put databases back in place, shared/ is partly restored: the probe says so.
    `shared/ is as it was or restored, unless SQLite databases were being put back in place: \`cutover snapshot list\` then names them, and \`cutover snapshot restore ${id}\` again finishes it`,
    stage,
    options,
    (hosts, now) => {
      for (const h of hosts) {
        if (!findComplete(h.snaps, id))
          throw new CutoverError("snapshot", `${h.t.host.name}: no complete snapshot ${id}`, {
            fix: "`cutover snapshot list` shows the snapshots every host has",
            state: "nothing was changed",
            exitCode: EXIT.failed,
          });
        if (h.snaps.shared !== "dir")
          throw new CutoverError(
            "snapshot",
            `${h.t.host.name}: ${h.t.host.path}/shared is ${h.snaps.shared === "missing" ? "missing" : `a ${h.snaps.shared}`}, not a directory; restore renames a directory in its place`,
            { state: "nothing was changed", exitCode: EXIT.failed },
          );
      }
      saved = nextSnapshotId(
        now,
        hosts.map((h) => h.snaps),
      );
      // A restore replaces data: who did it, from which snapshot, and where the old data went is history.
      return (h) => [
        ...restoreCmds({ ...metaInput(stage, h, saved, now), reason: "before-restore" }, id),
        appendHistory(
          layout(h.t.host.path),
          pathEntry({
            event: "restore-shared",
            outcome: "ok",
            stage: stage.name,
            host: h.t.host.name,
            release: liveRelease(h.facts) ?? null,
            who: whoAmI(),
            at: now.toISOString(),
            reason: `shared/ restored from snapshot ${id}; the replaced shared/ is snapshot ${saved}`,
          }),
        ),
      ];
    },
    (h, out) => ({ host: h.t.host.name, id, saved, swap: swapOf(out[1]), sqlite: sqlitePaths(out[1]) }),
  );
}

/** `snapshot prune`: partial snapshots, interrupted restores, and complete ones beyond `snapshots.keep`. */
export function pruneSnapshots(stage: ResolvedStage, options: SnapshotOptions): Promise<SnapshotRow[]> {
  const chosen = (h: HostState) => selectSnapshotPrune(h.snaps, stage.snapshots.keep);
  return snapshotRun(
    "prune snapshots",
    "some of the snapshots chosen may be removed, the others are whole; `snapshot prune` again finishes",
    stage,
    options,
    () => (h) => (chosen(h).length > 0 ? [removeSnapshots(layout(h.t.host.path), chosen(h))] : []),
    (h) => ({ host: h.t.host.name, removed: chosen(h) }),
  );
}

export interface SnapshotListRow {
  readonly id: string;
  /** Per host: complete, partial (cut short: never restored) or missing. */
  readonly hosts: Readonly<Record<string, "complete" | "partial" | "missing">>;
  readonly meta: SnapshotMeta;
}

/** `snapshot list`: every snapshot with its state per host, newest first. Read-only, no lock. */
export async function listSnapshots(
  stage: ResolvedStage,
  hosts: readonly string[] | undefined,
  emit: Emit,
): Promise<SnapshotListRow[]> {
  const targets = openTargets(stage, selectHosts(stage, hosts));
  try {
    const perHost = await onEveryHost(targets, async (t) => ({
      host: t.host.name,
      snaps: await readSnapshots(t, emit),
    }));
    const ids = [...new Set(perHost.flatMap((h) => h.snaps.snapshots.map((s) => s.id)))].sort().reverse();
    return ids.map((id) => {
      const found = perHost.map((h) => ({ host: h.host, s: h.snaps.snapshots.find((s) => s.id === id) }));
      return {
        id,
        hosts: Object.fromEntries(found.map(({ host, s }) => [host, s ? s.meta.state : "missing"])),
        meta: found.find((f) => f.s)!.s!.meta,
      };
    });
  } finally {
    await targets.close();
  }
}
