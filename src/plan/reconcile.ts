import { type Cmd, shProgram } from "../shell/cmd.js";
import type { HostFacts } from "./facts.js";
import type { Layout } from "./layout.js";
import { removeClockProbes, removeReleases, removeTmp, writeMeta } from "./records.js";
import type { ReleaseMeta } from "./release-meta.js";
import { selectPrune } from "./select.js";

/** What an interrupted earlier run left behind, found while holding the lock (so nobody else is working). */
export interface Leftovers {
  /** Release directories whose metadata says they never became complete: removed. */
  readonly incomplete: readonly string[];
  /** Metadata whose release directory is gone: removed. */
  readonly orphanMetas: readonly string[];
  /** Metadata whose state contradicts `current`: rewritten. */
  readonly fixes: readonly ReleaseMeta[];
  /** Temporary names cutover itself makes under .cutover/tmp: removed. */
  readonly tmp: readonly string[];
  /** The listing's clock probes a killed run left in releases/ (regular files): removed. */
  readonly clockProbes: readonly string[];
}

/**
 * The only names cutover creates in .cutover/tmp: the switch's new link, the in-place time mark,
 * the PHP helpers' directories, strategy: git's extraction of a commit (one directory holding the
 * archive, tree and checkout; the .tar and .src names beside it are from earlier versions) and a new
 * mirror before it is renamed into place.
 */
export function isOwnTmpName(name: string): boolean {
  return (
    name === "current" ||
    name === "in-place-mark" ||
    /^php-(\d{8}T\d{6}Z|check-\d+)$/.test(name) ||
    /^git-\d{8}T\d{6}Z(\.tar|\.src)?$/.test(name) ||
    /^git-mirror\.[A-Za-z0-9]{6}$/.test(name)
  );
}

/**
 * Only what cutover can prove is its own is ever a leftover: an id-named real directory in
 * releases/ whose own metadata says `preparing`, and never the release `current` resolves to.
 * A directory without metadata was not made by cutover (it writes the metadata first).
 */
export function findLeftovers(facts: HostFacts, now: string): Leftovers {
  const live = liveRelease(facts);
  const dirs = new Set(facts.releaseDirs);
  const foreign = new Set(facts.foreign);
  const incomplete = facts.releaseDirs.filter(
    (id) => id !== live && facts.metas.get(id)?.state === "preparing",
  );
  // Failed and bad releases keep their metadata (the reason) after their files are deleted.
  const orphanMetas = [...facts.metas.values()]
    .filter((m) => !dirs.has(m.id) && !foreign.has(m.id) && m.state !== "failed" && m.state !== "bad")
    .map((m) => m.id);
  const fixes: ReleaseMeta[] = [];
  for (const meta of facts.metas.values()) {
    if (!dirs.has(meta.id)) continue;
    if (meta.id === live && meta.state !== "live") fixes.push({ ...meta, state: "live" });
    else if (meta.id !== live && meta.state === "live") fixes.push({ ...meta, state: "superseded" });
    else if (meta.id !== live && meta.state === "ready") {
      fixes.push({
        ...meta,
        state: "failed",
        finished_at: now,
        reason: "the deploy was interrupted before the switch",
      });
    }
  }
  return {
    incomplete,
    orphanMetas,
    fixes,
    tmp: facts.tmp.filter(isOwnTmpName),
    clockProbes: facts.clockProbes,
  };
}

/** The release `current` resolves to on the host, if it is one of the releases. */
export function liveRelease(facts: HostFacts): string | undefined {
  return facts.current.kind === "link" ? facts.current.release : undefined;
}

/** Names in .cutover/tmp that cutover did not make: reported, never removed. */
export function foreignTmp(facts: HostFacts): string[] {
  return facts.tmp.filter((t) => !isOwnTmpName(t));
}

export function isEmpty(l: Leftovers): boolean {
  return (
    l.incomplete.length + l.orphanMetas.length + l.fixes.length + l.tmp.length + l.clockProbes.length === 0
  );
}

/** The releases and their metadata as they are once the leftovers are cleaned up. */
export function afterCleanup(
  facts: HostFacts,
  l: Leftovers,
): { metas: Map<string, ReleaseMeta>; dirs: string[] } {
  const gone = new Set([...l.incomplete, ...l.orphanMetas]);
  const metas = new Map([...facts.metas].filter(([id]) => !gone.has(id)));
  for (const fix of l.fixes) metas.set(fix.id, fix);
  return { metas, dirs: facts.releaseDirs.filter((id) => !gone.has(id)) };
}

/**
 * Metadata (and manifest) of releases whose directory the listing did not see, each only if there
 * is still nothing at its name: a directory there now (one the listing missed) is a release.
 */
const REMOVE_ORPHAN_METAS = `set -e
root=$1; shift
for id; do
  case $id in ""|-*|.*|*[!A-Za-z0-9._-]*) echo "refusing to remove \\"$id\\": not a release name" >&2; exit 3 ;; esac
  [ -e "$root/releases/$id" ] || [ -L "$root/releases/$id" ] || rm -f -- "$root/.cutover/releases/$id.json" "$root/.cutover/releases/$id.manifest"
done
`;

export function leftoverCmds(l: Layout, leftovers: Leftovers): Cmd[] {
  const { incomplete, orphanMetas, fixes, tmp, clockProbes } = leftovers;
  // Best effort: a process orphaned by a killed run may still be writing there; the next run retries.
  return [
    ...(orphanMetas.length > 0
      ? [
          shProgram(REMOVE_ORPHAN_METAS, [l.root, ...orphanMetas], {
            label: "remove metadata of releases gone",
          }),
        ]
      : []),
    // Also with only orphaned metadata, often the mark of a removal interrupted between its rename
    // into the trash and its start: with no id, removeReleases still empties the trash of that.
    ...(incomplete.length + orphanMetas.length > 0
      ? [{ ...removeReleases(l, incomplete), mayFail: true }]
      : []),
    ...(tmp.length > 0 ? [removeTmp(l, tmp)] : []),
    ...(clockProbes.length > 0 ? [removeClockProbes(l, clockProbes)] : []),
    ...fixes.flatMap((fixed) => writeMeta(l, fixed)),
  ];
}

/** `cutover cleanup`: the leftovers, then releases beyond `keep` (never the live one or the rollback target). */
export function planCleanup(
  l: Layout,
  facts: HostFacts,
  keep: number,
  now: string,
): { cmds: Cmd[]; removed: string[] } {
  const leftovers = findLeftovers(facts, now);
  const { metas, dirs } = afterCleanup(facts, leftovers);
  const prune = selectPrune(metas, dirs, liveRelease(facts), keep, facts.foreign);
  return {
    cmds: [...leftoverCmds(l, leftovers), ...(prune.length > 0 ? [removeReleases(l, prune)] : [])],
    removed: [...leftovers.incomplete, ...prune],
  };
}
