import type { HistoryEntry } from "./records.js";
import type { ReleaseMeta, Revision } from "./release-meta.js";

/** One deploy or rollback across the hosts it ran on: what went up (which commit), who, when, how it ended. */
export interface LogRow {
  readonly at: string;
  readonly event: "deploy" | "rollback";
  readonly release: string | null;
  readonly previous: string | null;
  /** The release's revision from its metadata (commit, ref, author, date, subject), or the history's commit. */
  readonly revision: Revision | null;
  readonly who: string;
  /** The one outcome every host had, or "mixed" (see hosts). */
  readonly outcome: HistoryEntry["outcome"] | "mixed";
  readonly hosts: Readonly<Record<string, HistoryEntry["outcome"]>>;
  readonly reason: string | null;
}

/** History lines of one run on several hosts are written within this of each other. */
const SAME_RUN_MS = 15 * 60 * 1000;

/**
 * Groups the hosts' history lines into runs (same event, release and person, close in time, one
 * line per host) and joins each with its release's metadata. Newest first, at most `limit`.
 */
export function revisionLog(
  entries: readonly HistoryEntry[],
  metas: ReadonlyMap<string, ReleaseMeta>,
  limit: number,
): LogRow[] {
  const runs: { first: HistoryEntry; last: number; hosts: Map<string, HistoryEntry> }[] = [];
  const sorted = entries
    .filter((e) => e.event === "deploy" || e.event === "rollback")
    .slice()
    .sort((a, b) => a.at.localeCompare(b.at));
  for (const e of sorted) {
    const time = Date.parse(e.at);
    const run = [...runs]
      .reverse()
      .find(
        (r) =>
          r.first.event === e.event &&
          r.first.release === e.release &&
          r.first.who === e.who &&
          !r.hosts.has(e.host) &&
          time - r.last <= SAME_RUN_MS,
      );
    if (run) {
      run.hosts.set(e.host, e);
      run.last = time;
    } else runs.push({ first: e, last: time, hosts: new Map([[e.host, e]]) });
  }
  return runs
    .reverse()
    .slice(0, limit)
    .map(({ first, hosts }) => {
      const outcomes = new Set([...hosts.values()].map((e) => e.outcome));
      const meta = first.release ? metas.get(first.release) : undefined;
      // The release's metadata is gone once it is pruned; the history line keeps the commit and its details.
      const fromHistory = first.revision
        ? {
            commit: first.revision.replace(/\+dirty$/, ""),
            dirty: first.revision.endsWith("+dirty"),
            ...first.revision_info,
          }
        : null;
      return {
        at: first.at,
        event: first.event as LogRow["event"],
        release: first.release,
        previous: first.previous,
        revision: meta?.revision ?? fromHistory,
        who: first.who,
        outcome: outcomes.size === 1 ? first.outcome : "mixed",
        hosts: Object.fromEntries([...hosts].map(([h, e]) => [h, e.outcome])),
        reason: [...hosts.values()].find((e) => e.reason)?.reason ?? null,
      };
    });
}
