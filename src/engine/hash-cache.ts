import { createHash } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { existsSync } from "node:fs";
import path from "node:path";
import { privateCacheDir, readPrivate, writePrivate } from "./private-cache.js";

type Row = [ino: string, size: string, mtime: string, ctime: string, hash: string];

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
    const file = HashCache.fileOf(source);
    return file !== undefined && existsSync(file);
  }

  private static fileOf(source: string): string | undefined {
    const dir = privateCacheDir("hashes");
    const key = createHash("sha256").update(path.resolve(source)).digest("hex").slice(0, 32);
    return dir ? path.join(dir, `${key}.json`) : undefined;
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

  get(name: string, st: BigIntStats): string | undefined {
    const row = this.rows[name];
    if (!Array.isArray(row) || row.length !== 5) return undefined;
    const [ino, size, mtime, ctime, hash] = row;
    if (ino !== String(st.ino) || size !== String(st.size)) return undefined;
    if (mtime !== String(st.mtimeNs) || ctime !== String(st.ctimeNs)) return undefined;
    if (typeof hash !== "string" || !/^[0-9a-f]{64}$/.test(hash)) return undefined;
    this.next[name] = row;
    return hash;
  }

  set(name: string, st: BigIntStats, hash: string): void {
    this.changed = true;
    const settledNs = BigInt(Date.now() - 1000) * 1_000_000n;
    if (st.ctimeNs > settledNs || st.mtimeNs > settledNs) return;
    this.next[name] = [String(st.ino), String(st.size), String(st.mtimeNs), String(st.ctimeNs), hash];
  }

  /** Keeps exactly the files seen this time (deleted ones drop out). */
  save(): void {
    if (!this.file) return;
    if (!this.changed && Object.keys(this.next).length === Object.keys(this.rows).length) return;
    writePrivate(this.file, JSON.stringify(this.next));
  }
}
