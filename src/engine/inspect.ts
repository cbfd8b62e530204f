import { requireReleasesStrategy } from "../config/in-place-rules.js";
import type { ResolvedStage } from "../config/resolve.js";
import type { ReleaseDiff } from "../plan/diff.js";
import { parseHistory } from "../plan/history.js";
import { liveInPlace } from "../plan/in-place-target.js";
import { layout } from "../plan/layout.js";
import { type HistoryEntry, readHistoryTail } from "../plan/records.js";
import type { ReleaseMeta } from "../plan/release-meta.js";
import { releaseOrder } from "../plan/release-order.js";
import type { Emit } from "./events.js";
import { onEveryHost } from "./every-host.js";
import { readFacts } from "./lock.js";
import { checkRelease, summarizeChanges } from "./release-check.js";
import { runStep } from "./steps.js";
import { openTargets, selectHosts, type Target } from "./targets.js";

async function withTargets<T>(
  stage: ResolvedStage,
  hosts: readonly string[] | undefined,
  work: (t: Target) => Promise<T>,
): Promise<T[]> {
  const targets = openTargets(stage, selectHosts(stage, hosts));
  try {
    return await onEveryHost(targets, work);
  } finally {
    await targets.close();
  }
}

export interface ReleaseRow {
  readonly id: string;
  /** Per host: the release's state there, with "live" only where `current` points to it. */
  readonly hosts: Readonly<
    Record<string, { state: ReleaseMeta["state"] | "missing"; live: boolean; onDisk: boolean }>
  >;
  readonly meta: ReleaseMeta;
  /** Hosts do not all agree on this release's state. */
  readonly disagree: boolean;
}

export async function listReleases(stage: ResolvedStage, hosts?: readonly string[]): Promise<ReleaseRow[]> {
  const perHost = await withTargets(stage, hosts, async (t) => ({
    host: t.host.name,
    facts: await readFacts(t, []),
  }));
  const ids = new Set(perHost.flatMap((h) => [...h.facts.metas.keys()]));
  return [...ids]
    .sort(releaseOrder(new Map(perHost.flatMap((h) => [...h.facts.metas]))))
    .reverse()
    .map((id) => {
      const row: ReleaseRow["hosts"] = Object.fromEntries(
        perHost.map(({ host, facts }) => {
          // In place, the live release's files are `current` itself; the others' builds are on the deploying machine.
          const inPlace = stage.strategy === "in-place";
          const live = inPlace
            ? liveInPlace(facts) === id
            : facts.current.kind === "link" && facts.current.release === id;
          const meta = facts.metas.get(id);
          const onDisk = inPlace ? live : facts.releaseDirs.includes(id);
          return [host, { state: meta?.state ?? "missing", live, onDisk }];
        }),
      );
      const states = new Set(Object.values(row).map((s) => `${s.state}/${s.live}`));
      const meta = perHost.map((h) => h.facts.metas.get(id)).find((m) => m !== undefined)!;
      return { id, hosts: row, meta, disagree: states.size > 1 };
    });
}

export async function readHistory(
  stage: ResolvedStage,
  limit: number,
  hosts?: readonly string[],
  emit: Emit = () => undefined,
): Promise<HistoryEntry[]> {
  const perHost = await withTargets(stage, hosts, (t) => readHostHistory(t, limit, emit));
  return perHost
    .flat()
    .sort((a, b) => a.at.localeCompare(b.at))
    .slice(-limit);
}

/** The entries among the last `lines` lines of a host's history; what it skipped is a warning. */
export async function readHostHistory(t: Target, lines: number, emit: Emit): Promise<HistoryEntry[]> {
  const l = layout(t.host.path);
  const file = l.history;
  const { stdout, stderr } = await runStep({ executor: t.executor, emit }, "read history", [
    readHistoryTail(l, lines),
  ]);
  // The refusal of a history that is no regular file (not what a login's rc files print).
  for (const line of stderr.split("\n").filter((s) => s.startsWith(file)))
    emit({ type: "warning", host: t.host.name, message: line });
  const { entries, bad } = parseHistory(stdout.toString("utf8"));
  if (bad > 0)
    emit({
      type: "warning",
      host: t.host.name,
      message: `${file}: skipped ${bad} line${bad === 1 ? "" : "s"} that are not history entries`,
    });
  return entries;
}

export interface VerifyRow {
  readonly host: string;
  readonly release: string | null;
  readonly ok: boolean;
  readonly expected?: string;
  readonly actual?: string;
  readonly problem?: string;
  /** What differs from the recorded manifest, when that manifest could be read. */
  readonly changes?: ReleaseDiff;
}

/** Recomputes the checksum of the release `current` points to on every host and compares it. */
export async function verify(stage: ResolvedStage, hosts?: readonly string[]): Promise<VerifyRow[]> {
  requireReleasesStrategy(stage, "verify");
  return withTargets(stage, hosts, async (t) => {
    const facts = await readFacts(t, []);
    const release = facts.current.kind === "link" ? facts.current.release : undefined;
    if (!release) return { host: t.host.name, release: null, ok: false, problem: "no current release" };
    const meta = facts.metas.get(release);
    const excluded = stage.writableDirs.map((w) => w.path);
    const check = meta
      ? await checkRelease(
          { executor: t.executor, emit: () => undefined },
          layout(t.host.path),
          meta,
          excluded,
          false,
        )
      : ({ kind: "unrecorded" } as const);
    const row = { host: t.host.name, release, expected: meta?.checksum };
    if (check.kind === "unrecorded")
      return { ...row, ok: false, problem: `release ${release} has no recorded checksum` };
    if (check.kind === "differs") {
      const what = check.changes ? summarizeChanges(check.changes) : check.why;
      const problem = check.checksum ? `content differs from the recorded checksum: ${what}` : what;
      return { ...row, ok: false, actual: check.checksum, problem, changes: check.changes };
    }
    const live = meta!.state === "live" || meta!.state === "ready";
    return {
      ...row,
      ok: live,
      actual: check.checksum,
      problem: live ? undefined : `state is ${meta!.state}`,
    };
  });
}
