import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { findTree, listSource, rsyncNames } from "../../src/engine/source-list.js";
import { compileExcludes } from "../../src/plan/exclude-match.js";

/** The source listing must send exactly what rsync would: compared with real rsync on many patterns. */
const root = mkdtempSync(path.join(os.tmpdir(), "cutover-excl-"));
// A `find` that is not GNU find (no -printf), ahead of the real one on PATH: the tree is walked here.
const bsdFind = mkdtempSync(path.join(os.tmpdir(), "cutover-bsd-find-"));
writeFileSync(
  path.join(bsdFind, "find"),
  "#!/bin/sh\necho 'find: -printf: unknown primary or operator' >&2\nexit 1\n",
);
chmodSync(path.join(bsdFind, "find"), 0o755);
after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(bsdFind, { recursive: true, force: true });
});

const namesIn = async (dir: string, exclude: string[]) =>
  (await listSource(dir, exclude))?.map((e) => e.name).sort();
const names = (exclude: string[]) => namesIn(root, exclude);

/** Runs `list` with the non-GNU find first on PATH. */
async function withoutGnuFind<T>(list: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = `${bsdFind}:${saved}`;
  try {
    return await list();
  } finally {
    process.env.PATH = saved;
  }
}

const files = [
  "a.log",
  "keep.php",
  "logs/x.txt",
  "app/logs/y.txt",
  "app/logs.txt",
  "app/cache/c.php",
  "cache/c.php",
  "node_modules/m/index.js",
  "deep/node_modules/z.js",
  ".git/HEAD",
  "sub/.git",
  "sp ace/f i le.txt",
  "café/ünï.php",
  "public/build/app.js",
  "src/build/keep.ts",
  "x.tmp",
  "dir.tmp/inner",
  "storage/framework/sessions/s1",
  ".env",
  "config/.env",
  "tests/Unit/ATest.php",
  "a.l+g",
  "a.lxg",
  "(x)/y.php",
  "$d",
  "!bang",
  "-dash",
  "+plus",
  "#hash",
  "Keep.php",
  " logs/z",
  "logs ",
];
for (const f of files) {
  mkdirSync(path.join(root, path.dirname(f)), { recursive: true });
  writeFileSync(path.join(root, f), f);
}
symlinkSync("keep.php", path.join(root, "link.php"));
symlinkSync("logs", path.join(root, "logs-link"));

const sets: string[][] = [
  [],
  [".git", ".cutover"],
  ["*.log", "/cache", "node_modules"],
  ["logs/", "*.tmp"],
  ["/public/build", "build/"],
  ["app/logs", "storage/framework/sessions/*"],
  ["/.env", "tests", "sp ace"],
  ["caf?", "/a.*", "ke*p.php"],
  ["logs-link/", "link.php"],
  ["*/cache", "/storage/*/sessions"],
  ["*", ".*"],
  ["*.php", "x.tmp/", "f i le.txt"],
  ["app/", "/app/cache/", "sub/.git", "dir.tmp/*"],
  ["*ü*", "*/*/sessions", "public/*.js"],
  ["café/", "ünï.php", "c.php", "HEAD/"],
  // Plain names (a set lookup) with characters a regex or a shell would read: matched literally.
  ["a.l+g", "(x)", "$d", "!bang", "-dash", "+plus", "#hash", "Keep.php", "sp ace/", " logs", "logs "],
];

for (const exclude of sets) {
  test(`the listing matches rsync's choice for ${JSON.stringify(exclude)}, with and without GNU find`, async () => {
    assert.ok(compileExcludes(exclude), "these patterns are matched here, not listed by rsync");
    const listed = (await rsyncNames(root, exclude))!.sort();
    assert.deepEqual(await names(exclude), listed);
    assert.deepEqual(await withoutGnuFind(() => names(exclude)), listed);
  });
}

test("patterns the walk does not model are left to rsync: **, classes, escapes, +/- prefixes, !, //", async () => {
  for (const p of ["**/cache", "[ab].log", "a\\*b", "+ keep.php", "- a.log", "!", "logs//", "/app//"])
    assert.equal(compileExcludes([p]), undefined, p);
  // rsync strips one trailing slash: "logs//" is the path "logs/", which names nothing.
  for (const p of ["logs//", "/app///"]) {
    const kept = await names([p]);
    assert.deepEqual(kept, (await rsyncNames(root, [p]))!.sort(), p);
    assert.ok(kept!.includes(p.startsWith("/") ? "app/cache/c.php" : "logs/x.txt"), p);
  }
  const listed = await names(["**/node_modules"]);
  assert.deepEqual(listed, (await rsyncNames(root, ["**/node_modules"]))!.sort());
  assert.ok(!listed!.some((n) => n.includes("node_modules")));
});

test("GNU find's listing reads each entry's inode, times and target exactly as lstat does", async () => {
  const byName = (l: Awaited<ReturnType<typeof listSource>>) =>
    [...l!].sort((a, b) => a.name.localeCompare(b.name));
  const listed = await listSource(root, []);
  assert.equal(listed![0]!.name, ".", "the root first");
  const found = byName(listed);
  assert.equal(found.filter((e) => e.type === "f").length, files.length);
  assert.deepEqual(found, byName(await withoutGnuFind(() => listSource(root, []))));
  assert.equal(found.find((e) => e.name === "link.php")?.link, "keep.php");
  assert.match(found.find((e) => e.name === "keep.php")!.mtime, /^\d+\.\d{9}$/);
});

test("GNU find's listing is read as it comes: many reads, names of multi-byte characters split between them", async () => {
  const wide = mkdtempSync(path.join(os.tmpdir(), "cutover-wide-"));
  try {
    // ~150 bytes a record, mostly 3- and 4-byte characters: a listing of ~600 KB read in many chunks.
    for (let d = 0; d < 40; d++) {
      const dir = path.join(wide, `目录 ${d} é`);
      mkdirSync(dir);
      for (let f = 0; f < 100; f++) writeFileSync(path.join(dir, `${"日本".repeat(8)}🐘 ${f}.php`), "x");
    }
    const byName = (l: Awaited<ReturnType<typeof listSource>>) =>
      [...l!].sort((a, b) => a.name.localeCompare(b.name));
    // find's own listing (listSource would walk the tree here if find's could not be read).
    const listed = await findTree(wide, []);
    assert.equal(listed?.length, 1 + 40 + 4000);
    assert.deepEqual(byName(listed), byName(await withoutGnuFind(() => listSource(wide, []))));
  } finally {
    rmSync(wide, { recursive: true, force: true });
  }
});

test("a name that is not UTF-8 sends the upload the classic way, even where an exclude's ? would match it", async () => {
  const odd = mkdtempSync(path.join(os.tmpdir(), "cutover-odd-"));
  try {
    mkdirSync(path.join(odd, "public"));
    writeFileSync(path.join(odd, "public/index.php"), "x");
    // "d\xe9": rsync sees 2 bytes, so "d???" does not match it; read as UTF-8 it is "d\uFFFD" (4 bytes).
    const name = Buffer.concat([Buffer.from(path.join(odd, "public/d")), Buffer.from([0xe9])]);
    mkdirSync(name);
    writeFileSync(Buffer.concat([name, Buffer.from("/c.php")]), "x");
    assert.equal(await listSource(odd, ["/public/d???"]), undefined);
    assert.equal(await withoutGnuFind(() => listSource(odd, ["/public/d???"])), undefined);
  } finally {
    rmSync(odd, { recursive: true, force: true });
  }
});

test("directories an exclude names are not descended into, with or without GNU find", async () => {
  const tree = mkdtempSync(path.join(os.tmpdir(), "cutover-prune-"));
  try {
    // Inside each excluded directory, a name that cannot be read back: seen, it would force the
    // classic upload; not descended into, the listing is made.
    for (const dir of ["var/cache", "node_modules", "a/var/cache"]) {
      mkdirSync(path.join(tree, dir), { recursive: true });
      writeFileSync(Buffer.concat([Buffer.from(path.join(tree, dir, "x")), Buffer.from([0xff])]), "x");
    }
    writeFileSync(path.join(tree, "keep.php"), "x");
    for (const exclude of [
      ["var/cache", "node_modules"],
      ["/var/cache", "/a/var/cache", "node_modules/"],
    ]) {
      const expected = (await rsyncNames(tree, exclude))!.sort();
      assert.deepEqual(await namesIn(tree, exclude), expected, JSON.stringify(exclude));
      assert.deepEqual(await withoutGnuFind(() => namesIn(tree, exclude)), expected, JSON.stringify(exclude));
    }
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
});
