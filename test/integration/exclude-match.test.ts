import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { rsyncNames, sourceNames } from "../../src/engine/source-index.js";
import { compileExcludes } from "../../src/plan/exclude-match.js";

/** The source walk must send exactly what rsync would: compared with real rsync on many patterns. */
const root = mkdtempSync(path.join(os.tmpdir(), "cutover-excl-"));
after(() => rmSync(root, { recursive: true, force: true }));

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
];

for (const exclude of sets) {
  test(`the walk matches rsync's choice for ${JSON.stringify(exclude)}`, async () => {
    assert.ok(compileExcludes(exclude), "these patterns are walked here, not listed by rsync");
    const walked = (await sourceNames(root, exclude))!.sort();
    const listed = (await rsyncNames(root, exclude))!.sort();
    assert.deepEqual(walked, listed);
  });
}

test("patterns the walk does not model are left to rsync: **, classes, escapes, +/- prefixes, !", async () => {
  for (const p of ["**/cache", "[ab].log", "a\\*b", "+ keep.php", "- a.log", "!"])
    assert.equal(compileExcludes([p]), undefined, p);
  const names = await sourceNames(root, ["**/node_modules"]);
  assert.deepEqual(names!.sort(), (await rsyncNames(root, ["**/node_modules"]))!.sort());
  assert.ok(!names!.some((n) => n.includes("node_modules")));
});
