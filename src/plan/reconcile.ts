import path from "node:path/posix";
import { type Cmd, cmd } from "../shell/cmd.js";
import type { HostFacts } from "./facts.js";
import type { Layout } from "./layout.js";
import { removeRelease, writeMeta } from "./records.js";
import type { ReleaseMeta } from "./release-meta.js";

/** What an interrupted earlier run left behind, found while holding the lock (so nobody else is working). */
export interface Leftovers {
  /** Release directories that never became complete: removed. */
  readonly incomplete: readonly string[];
  /** Metadata whose release directory is gone: removed. */
  readonly orphanMetas: readonly string[];
  /** Metadata whose state contradicts `current`: rewritten. */
  readonly fixes: readonly ReleaseMeta[];
  /** Temporary names under .cutover/tmp. */
  readonly tmp: readonly string[];
}

export function findLeftovers(facts: HostFacts, now: string): Leftovers {
  const live = facts.current.kind === "link" ? facts.current.release : undefined;
  const dirs = new Set(facts.releaseDirs);
  const incomplete = facts.releaseDirs.filter((id) => {
    if (id === live) return false;
    const meta = facts.metas.get(id);
    return meta === undefined || meta.state === "preparing";
  });
  // Failed and bad releases keep their metadata (the reason) after their files are deleted.
  const orphanMetas = [...facts.metas.values()]
    .filter((m) => !dirs.has(m.id) && m.state !== "failed" && m.state !== "bad")
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
  return { incomplete, orphanMetas, fixes, tmp: facts.tmp };
}

export function isEmpty(l: Leftovers): boolean {
  return l.incomplete.length + l.orphanMetas.length + l.fixes.length + l.tmp.length === 0;
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

export function leftoverCmds(l: Layout, leftovers: Leftovers): Cmd[] {
  const { incomplete, orphanMetas, fixes, tmp } = leftovers;
  // Best effort: a process orphaned by a killed run may still be writing there; the next run retries.
  const remove = [...incomplete, ...orphanMetas]
    .flatMap((id) => removeRelease(l, id))
    .map((c) => ({ ...c, mayFail: true }));
  return [
    ...remove,
    ...(tmp.length > 0 ? [cmd(["rm", "-rf", "--", ...tmp.map((t) => path.join(l.tmp, t))])] : []),
    ...fixes.flatMap((fixed) => writeMeta(l, fixed)),
  ];
}
