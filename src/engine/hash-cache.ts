import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { privateCacheDir, readPrivate, writePrivate } from "./private-cache.js";
import type { Listed } from "./source-list.js";

/** Times as "seconds.nanoseconds": a change keeps none of them equal. */
type Row = [ino: string, size: number, mtime: string, ctime: string, hash: string];
type Stamp = Pick<Listed, "name" | "ino" | "size" | "mtime" | "ctime">;

/**
 * The source's file hashes, keyed like git's index by inode, size, mtime and ctime (any write or
 * chmod changes ctime). A file changed in the last second is not cached: a second write within
 * the same clock tick would keep every stamp. A cache that cannot be read or written is no cache.
 */
export class HashCache {
  private readonly rows: Record<string, Row>;
  private readonly next: Record<string, Row> = {};
  private changed = false;

  private constructor(
    private readonly file: string | undefined,
    rows: Record<string, Row>,
  ) {
    this.rows = rows;
  }

  /** True once a deploy from this machine indexed `source`: the next one will want its index. */
  static exists(source: string): boolean {
    const file = HashCache.fileOf(source, false);
    return file !== undefined && existsSync(file);
  }

  private static fileOf(source: string, create = true): string | undefined {
    const dir = privateCacheDir("hashes", create);
    const key = createHash("sha256").update(path.resolve(source)).digest("hex").slice(0, 32);
    return dir ? path.join(dir, `${key}.json`) : undefined;
  }

  /** No cache: every file is read, nothing is kept. */
  static none(): HashCache {
    return new HashCache(undefined, {});
  }

  static open(source: string): HashCache {
    const file = HashCache.fileOf(source);
    let rows: Record<string, Row> = {};
    try {
      const parsed: unknown = JSON.parse(readPrivate(file!)!.toString("utf8"));
      if (parsed && typeof parsed === "object") rows = parsed as Record<string, Row>;
    } catch {
      // No cache yet, or an unreadable one: every file is read.
    }
    return new HashCache(file, rows);
  }

  get(e: Stamp): string | undefined {
    const row = this.rows[e.name];
    if (!Array.isArray(row) || row.length !== 5) return undefined;
    const [ino, size, mtime, ctime, hash] = row;
    if (ino !== e.ino || size !== e.size || mtime !== e.mtime || ctime !== e.ctime) return undefined;
    if (typeof hash !== "string" || hash.length !== 64) return undefined;
    this.next[e.name] = row;
    return hash;
  }

  set(e: Stamp, hash: string): void {
    this.changed = true;
    const settled = Date.now() / 1000 - 1;
    if (Number.parseFloat(e.ctime) > settled || Number.parseFloat(e.mtime) > settled) return;
    this.next[e.name] = [e.ino, e.size, e.mtime, e.ctime, hash];
  }

  /** Keeps exactly the files seen this time (deleted ones drop out). */
  save(): void {
    if (!this.file) return;
    if (!this.changed && Object.keys(this.next).length === Object.keys(this.rows).length) return;
    writePrivate(this.file, JSON.stringify(this.next));
  }
}
