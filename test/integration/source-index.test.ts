import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { indexSource } from "../../src/engine/source-index.js";

/** The source index on real files: hashes come from the cache only while a file's inode stamps are unchanged. */
const work = mkdtempSync(path.join(os.tmpdir(), "cutover-index-"));
const src = path.join(work, "src");
const savedCache = process.env.XDG_CACHE_HOME;
const sha = (text: string) => createHash("sha256").update(text).digest("hex");

before(async () => {
  process.env.XDG_CACHE_HOME = path.join(work, "cache");
  mkdirSync(path.join(src, "lib"), { recursive: true });
  writeFileSync(path.join(src, "a.php"), "<?php // a\n");
  writeFileSync(path.join(src, "lib/b.php"), "<?php // b\n");
  // A file changed within the last second is not cached (a second write could keep every stamp).
  await new Promise((r) => setTimeout(r, 1100));
});
after(() => {
  process.env.XDG_CACHE_HOME = savedCache;
  rmSync(work, { recursive: true, force: true });
});

/** A file's hash as indexed, once the index has also written its cache (just after it returns). */
async function hashOf(name: string): Promise<string | undefined> {
  const index = await indexSource(src, []);
  await new Promise((r) => setImmediate(r));
  return index!.find((e) => e.path === name)?.hash;
}

/** The cache file of this source, rewritten so that one file's cached hash is `hash`. */
function plantCachedHash(name: string, hash: string): void {
  const dir = path.join(work, "cache", "cutover", "hashes");
  const file = path.join(dir, readdirSync(dir)[0]!);
  const rows = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown[]>;
  assert.ok(Array.isArray(rows[name]), `${name} is cached`);
  rows[name]![4] = hash;
  writeFileSync(file, JSON.stringify(rows));
}

test("an unchanged file's hash comes from the cache; a rewrite that keeps size and mtime is read again", async () => {
  assert.equal(await hashOf("a.php"), sha("<?php // a\n"));
  // The cache is used: a hash planted for an unchanged file is what the index reports.
  const planted = "f".repeat(64);
  plantCachedHash("lib/b.php", planted);
  assert.equal(await hashOf("lib/b.php"), planted);

  // Same size, mtime put back: only the ctime tells, and it must.
  const b = path.join(src, "lib/b.php");
  const mtime = statSync(b, { bigint: true }).mtimeNs;
  writeFileSync(b, "<?php // B\n");
  execFileSync("touch", [
    "-m",
    "-d",
    `@${mtime / 1_000_000_000n}.${String(mtime % 1_000_000_000n).padStart(9, "0")}`,
    b,
  ]);
  assert.equal(statSync(b, { bigint: true }).mtimeNs, mtime);
  assert.equal(await hashOf("lib/b.php"), sha("<?php // B\n"));
});
