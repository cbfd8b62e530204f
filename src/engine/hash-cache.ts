import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { privateCacheDir, readPrivate, removePrivate, writePrivate } from "./private-cache.js";
import type { Listed } from "./source-list.js";

/**
 * The cache file: a header, then per file (in the order the source was listed) its name, inode,
 * size, mtime and ctime ("seconds.nanoseconds": a change keeps none of them equal) and hash, each
 * field ended by NUL, which no name holds. Read in the listing's order, a run whose tree is listed
 * as before compares each file with the next record and builds no table of names.
 */
const HEADER = "cutover-hashes 1";
const WIDTH = 6;

type Stamp = Pick<Listed, "name" | "ino" | "size" | "mtime" | "ctime">;

/**
 * The source's file hashes, keyed like git's index by inode, size, mtime and ctime (any write or
 * chmod changes ctime). A file changed in the last second is not cached: a second write within
 * the same clock tick would keep every stamp. A cache that cannot be read or written is no cache.
 */
export class HashCache {
  /** Where the next record in the listing's order starts. */
  private at = 1;
  /** Each record's start by name, made only when a name is not the next record's. */
  private byName: Map<string, number> | undefined;
  private readonly next: string[] = [];
  /** The file is to be written: a hash was added, or the records were out of the listing's order. */
  private rewrite = false;

  private constructor(
    private readonly file: string | undefined,
    /** The header, then WIDTH fields a record (the file's text split at NUL, the last "" dropped). */
    private readonly fields: readonly string[],
  ) {}

  /** True once a deploy from this machine indexed `source`: the next one will want its index. */
  static exists(source: string): boolean {
    const file = HashCache.fileOf(source, false);
    return file !== undefined && existsSync(file);
  }

  private static fileOf(source: string, create = true): string | undefined {
    const dir = privateCacheDir("hashes", create);
    const key = createHash("sha256").update(path.resolve(source)).digest("hex").slice(0, 32);
    return dir ? path.join(dir, `${key}.hashes`) : undefined;
  }

  /** No cache: every file is read, nothing is kept. */
  static none(): HashCache {
    return new HashCache(undefined, [HEADER]);
  }

  static open(source: string): HashCache {
    const file = HashCache.fileOf(source);
    const fields = (file && readPrivate(file)?.toString("utf8").split("\0")) || [];
    // Anything but whole records after the header (a cut or foreign file) is no cache.
    const whole = fields[0] === HEADER && fields.pop() === "" && (fields.length - 1) % WIDTH === 0;
    return new HashCache(file, whole ? fields : [HEADER]);
  }

  /** Where `name`'s record starts, if it has one. */
  private find(name: string): number | undefined {
    const f = this.fields;
    let i: number | undefined = this.at;
    if (f[i] !== name) {
      if (!this.byName) {
        this.rewrite = true;
        this.byName = new Map();
        for (let r = 1; r < f.length; r += WIDTH) this.byName.set(f[r]!, r);
      }
      i = this.byName.get(name);
      if (i === undefined) return undefined;
    }
    this.at = i + WIDTH;
    return i;
  }

  get(e: Stamp): string | undefined {
    const i = this.find(e.name);
    if (i === undefined) return undefined;
    const f = this.fields;
    if (f[i + 1] !== e.ino || f[i + 2] !== String(e.size) || f[i + 3] !== e.mtime || f[i + 4] !== e.ctime)
      return undefined;
    const hash = f[i + 5]!;
    if (hash.length !== 64) return undefined;
    this.next.push(e.name, e.ino, String(e.size), e.mtime, e.ctime, hash);
    return hash;
  }

  set(e: Stamp, hash: string): void {
    this.rewrite = true;
    const settled = Date.now() / 1000 - 1;
    if (Number.parseFloat(e.ctime) > settled || Number.parseFloat(e.mtime) > settled) return;
    this.next.push(e.name, e.ino, String(e.size), e.mtime, e.ctime, hash);
  }

  /** Keeps exactly the files seen this time (deleted ones drop out). */
  save(): void {
    if (!this.file) return;
    if (!this.rewrite && this.next.length === this.fields.length - 1) return;
    writePrivate(this.file, `${[HEADER, ...this.next].join("\0")}\0`);
    // The same source's cache in the format before this one (a JSON object), left by an older cutover.
    removePrivate(this.file.replace(/\.hashes$/, ".json"));
  }
}
