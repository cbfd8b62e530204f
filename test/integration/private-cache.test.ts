import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  chmodSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, beforeEach, test } from "node:test";
import { recallManifest, rememberManifest } from "../../src/engine/manifest-cache.js";
import { privateCacheDir, writePrivate } from "../../src/engine/private-cache.js";

/** The caches on the deploying machine are this user's alone: another user can neither read nor plant entries. */
const root = mkdtempSync(path.join(os.tmpdir(), "cutover-cache-"));
const saved = process.env.XDG_CACHE_HOME;
after(() => {
  process.env.XDG_CACHE_HOME = saved;
  rmSync(root, { recursive: true, force: true });
});
let n = 0;
beforeEach(() => {
  process.env.XDG_CACHE_HOME = path.join(root, `home ${n++}`);
});

const text = '"a.php" f 644 0000000000000000000000000000000000000000000000000000000000000000\n';
const checksum = `sha256:${createHash("sha256").update(text).digest("hex")}`;

test("a manifest is kept 0600 in a 0700 directory and read back only with its checksum", () => {
  rememberManifest(text, checksum);
  const dir = privateCacheDir("manifests")!;
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const [file] = readdirSync(dir);
  assert.equal(statSync(path.join(dir, file!)).mode & 0o777, 0o600);
  assert.equal(recallManifest(checksum), text);
  writeFileSync(path.join(dir, file!), text.replace("644", "755"));
  assert.equal(recallManifest(checksum), undefined, "content that is not the checksum's is not used");
});

test("a manifest remembered again (a fleet's hosts seal the same) is written once, again only if changed or gone", () => {
  rememberManifest(text, checksum);
  const dir = privateCacheDir("manifests")!;
  const file = path.join(dir, readdirSync(dir)[0]!);
  const stamp = () => {
    const s = statSync(file, { bigint: true });
    return `${s.ino} ${s.ctimeNs}`;
  };
  const first = stamp();
  rememberManifest(text, checksum);
  assert.equal(stamp(), first, "not written again");
  writeFileSync(file, "tampered");
  rememberManifest(text, checksum);
  assert.equal(readFileSync(file, "utf8"), text);
  rmSync(file);
  rememberManifest(text, checksum);
  assert.equal(recallManifest(checksum), text);
});

test("a directory others could write to is not used; an open one of ours is closed", () => {
  const dir = path.join(process.env.XDG_CACHE_HOME!, "cutover", "manifests");
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o777);
  assert.equal(privateCacheDir("manifests"), undefined);
  chmodSync(dir, 0o755);
  assert.equal(privateCacheDir("manifests"), dir);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
});

test("pruning keeps the newest 40 and removes only this cache's own regular files", () => {
  const dir = privateCacheDir("manifests")!;
  const outside = path.join(root, "outside target");
  writeFileSync(outside, "not the cache's");
  const hexLink = "f".repeat(64);
  const hexDir = "e".repeat(64);
  symlinkSync(outside, path.join(dir, hexLink));
  mkdirSync(path.join(dir, hexDir));
  writeFileSync(path.join(dir, "notes.txt"), "someone's notes");
  const old = new Date(Date.now() - 3_600_000);
  for (const name of [hexLink, "notes.txt"]) lutimesSync(path.join(dir, name), old, old);
  for (let i = 0; i < 45; i++) {
    const t = `"f${i}.php" f 644 ${"0".repeat(64)}\n`;
    rememberManifest(t, `sha256:${createHash("sha256").update(t).digest("hex")}`);
  }
  const left = readdirSync(dir);
  const own = left.filter((f) => /^[0-9a-f]{64}$/.test(f) && lstatSync(path.join(dir, f)).isFile());
  assert.equal(own.length, 40);
  for (const kept of [hexLink, hexDir, "notes.txt"]) assert.ok(left.includes(kept), kept);
  assert.equal(readFileSync(outside, "utf8"), "not the cache's");
});

test("a planted link is never read, and a relative XDG_CACHE_HOME is ignored", () => {
  const dir = privateCacheDir("manifests")!;
  const hex = checksum.slice(7);
  const elsewhere = path.join(root, "elsewhere");
  writeFileSync(elsewhere, text);
  symlinkSync(elsewhere, path.join(dir, hex));
  assert.equal(recallManifest(checksum), undefined);
  process.env.XDG_CACHE_HOME = "relative/cache";
  const home = privateCacheDir("manifests");
  assert.ok(home === undefined || path.isAbsolute(home));
  assert.ok(!home?.startsWith(path.resolve("relative")), "not under the working directory");
});

test("a write that cannot replace its file removes its own temporary file and nothing else", () => {
  const dir = privateCacheDir("manifests")!;
  // The target is a directory with something in it: the rename fails.
  const target = path.join(dir, "target");
  mkdirSync(target);
  writeFileSync(path.join(target, "inside"), "kept");
  writeFileSync(path.join(dir, "other"), "kept");
  writePrivate(target, "data");
  assert.deepEqual(readdirSync(dir).sort(), ["other", "target"]);
  assert.equal(readFileSync(path.join(target, "inside"), "utf8"), "kept");
});

test("a manifest recalled again is the file as it is now: under another cache, a planted link or rewritten, it is not used", (t) => {
  const other = `"b.php" f 644 ${"1".repeat(64)}\n`;
  const sum = `sha256:${createHash("sha256").update(other).digest("hex")}`;
  const home = process.env.XDG_CACHE_HOME!;
  rememberManifest(other, sum);
  const file = path.join(privateCacheDir("manifests")!, sum.slice(7));
  // Written more than a second ago: a recall keeps it for the next.
  t.mock.timers.enable({ apis: ["Date"], now: Date.now() + 5000 });
  assert.equal(recallManifest(sum), other);
  assert.equal(recallManifest(sum), other);
  process.env.XDG_CACHE_HOME = path.join(root, "another home");
  assert.equal(recallManifest(sum), undefined, "another cache does not have it");
  process.env.XDG_CACHE_HOME = home;
  const elsewhere = path.join(root, "elsewhere too");
  writeFileSync(elsewhere, other);
  rmSync(file);
  symlinkSync(elsewhere, file);
  assert.equal(recallManifest(sum), undefined, "a planted link is not read");
  rmSync(file);
  rememberManifest(other, sum);
  assert.equal(recallManifest(sum), other);
  writeFileSync(file, `${other}"c.php" d 755\n`);
  assert.equal(recallManifest(sum), undefined, "content that is not the checksum's is not used");
});
