import { createHash } from "node:crypto";
import { lstatSync, readFileSync } from "node:fs";
import path from "node:path";
import type { SourceEntry } from "../plan/delta.js";
import { HashCache } from "./hash-cache.js";
import { listSource, mtimeText } from "./source-list.js";

/**
 * Every entry rsync would send from `from` with these excludes (see source-list.ts), with its type,
 * mode, size, link target and (files) sha256. Hashes are kept in a cache keyed by inode, size, mtime
 * and ctime, so an incremental deploy reads only the files that changed. Undefined when the source
 * cannot be listed as rsync would send it: the caller then uploads the classic way.
 */
export async function indexSource(
  from: string,
  exclude: readonly string[],
  remember = true,
): Promise<SourceEntry[] | undefined> {
  const listed = await listSource(from, exclude);
  if (listed === undefined) return undefined;
  const cache = remember ? HashCache.open(from) : HashCache.none();
  const uid = process.getuid?.() ?? -1;
  const gid = process.getgid?.() ?? -1;
  const entries: SourceEntry[] = [];
  for (const e of listed) {
    const common = { path: e.name, mode: e.mode, size: e.size, own: e.uid === uid && e.gid === gid };
    if (e.type === "f") {
      let hash = cache.get(e);
      if (hash === undefined) {
        hash = createHash("sha256")
          .update(readFileSync(path.join(from, e.name)))
          .digest("hex");
        cache.set(e, hash);
      }
      entries.push({ ...common, type: "f", hash, mtime: e.mtime });
    } else if (e.type === "l") entries.push({ ...common, type: "l", link: e.link });
    else entries.push({ ...common, type: e.type });
  }
  // Off the critical path: written once the caller has handed the host its work.
  setImmediate(() => cache.save());
  return entries;
}

/** A file's mtime as "seconds.nanoseconds" (as `touch -d @…` takes it), or undefined. */
export function mtimeOf(file: string): string | undefined {
  try {
    return mtimeText(lstatSync(file, { bigint: true }).mtimeNs);
  } catch {
    return undefined;
  }
}
