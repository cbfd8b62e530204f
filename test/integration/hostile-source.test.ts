import assert from "node:assert/strict";
import { mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { assertCurrentComplete, snapshot } from "../helpers/tree.js";

/**
 * Source trees that try to make cutover write outside the release: a symlink at every depth of a
 * shared or writable path. And names that try to break the plumbing: newlines, leading dashes,
 * the manifest's markers, unicode. Nothing outside may change; odd names must arrive intact.
 */
const fx = fixture();
after(() => fx.cleanup());
const outside = path.join(fx.dir, "outside");
mkdirSync(path.join(outside, "b/c"), { recursive: true });
writeFileSync(path.join(outside, "b/c/keep.txt"), "not cutover's");
writeFileSync(path.join(outside, "c"), "a file outside");
const untouched = () => snapshot(outside);
const baseline = untouched();

test("setup: a good release", async () => {
  assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
});

// Where the link is (relative to the source) and what it points at, for the path a/b/c.
const DEPTHS: [string, string][] = [
  ["a", outside],
  ["a/b", path.join(outside, "b")],
  ["a/b/c", path.join(outside, "b/c")],
];

for (const kind of ["shared_dirs", "writable_dirs"] as const) {
  for (const [at, target] of DEPTHS) {
    test(`${kind}: [a/b/c] with ${at} -> outside in the source: nothing outside changes`, async () => {
      mkdirSync(path.dirname(path.join(fx.app, at)), { recursive: true });
      symlinkSync(target, path.join(fx.app, at));
      const extra =
        kind === "shared_dirs" ? { shared_dirs: ["storage/uploads", "a/b/c"] } : { writable_dirs: ["a/b/c"] };
      fx.writeConfig(extra);
      try {
        const r = await cutover(["deploy"], fx.app);
        assert.deepEqual(untouched(), baseline, `${r.stderr}\nsomething outside changed`);
        // A link in the final place is only replaced (shared) or refused (writable); a link above it is refused.
        if (at === "a/b/c" && kind === "shared_dirs") assert.equal(r.code, 0, r.stderr);
        else {
          assert.equal(r.code, 1, r.stderr);
          assert.match(
            r.stderr,
            /is a symlink .*(refusing to write through it|a writable dir must be a directory)/,
          );
        }
        assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
      } finally {
        rmSync(path.join(fx.app, "a"), { recursive: true, force: true });
        fx.writeConfig();
      }
    });
  }
}

test("names with newlines, leading dashes, manifest markers and unicode arrive intact and verify", async () => {
  const names = [
    "new\nline.php",
    "-rf",
    "--",
    "@@hashes",
    "@@entries",
    "ünïcödé ✓.php",
    "sp ace/-x/@@previous",
  ];
  for (const n of names) fx.file(`odd/${n}`, `content of ${JSON.stringify(n)}\n`);
  try {
    const r = await cutover(["deploy"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    for (const n of names)
      assert.equal(
        readFileSync(path.join(fx.deployPath, "current/odd", n), "utf8"),
        `content of ${JSON.stringify(n)}\n`,
      );
    assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
    const v = await cutover(["verify"], fx.app);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  } finally {
    rmSync(path.join(fx.app, "odd"), { recursive: true, force: true });
  }
});

test("a source entry at the writable dir's copy name is refused, not deleted or listed", async () => {
  fx.file("bootstrap/cache/packages.php", "<?php return [];\n");
  fx.file("bootstrap/cache.cutover-copy/mine.php", "<?php // the app's own\n");
  const live = readlinkSync(path.join(fx.deployPath, "current"));
  try {
    const r = await cutover(["deploy"], fx.app);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /bootstrap\/cache\.cutover-copy is in the source; .* rename or exclude it/);
    assert.equal(readlinkSync(path.join(fx.deployPath, "current")), live);
    assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
  } finally {
    rmSync(path.join(fx.app, "bootstrap"), { recursive: true, force: true });
  }
});

test("two names that differ only in bytes that are not UTF-8: refused, not recorded with one hash for both", async () => {
  const named = (dir: string, byte: number) =>
    Buffer.concat([Buffer.from(path.join(dir, "bytes", "n")), Buffer.from([byte])]);
  const live = readlinkSync(path.join(fx.deployPath, "current"));
  mkdirSync(path.join(fx.app, "bytes"));
  writeFileSync(named(fx.app, 0xff), "one\n");
  writeFileSync(named(fx.app, 0xfe), "two\n");
  try {
    const r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /two entries of the release are named \.\/bytes\/n\uFFFD once read as UTF-8/);
    assert.equal(readlinkSync(path.join(fx.deployPath, "current")), live);
    // The same pair put into the live release: verify cannot vouch for it (it said "ok" before).
    mkdirSync(path.join(fx.deployPath, "current/bytes"));
    writeFileSync(named(path.join(fx.deployPath, "current"), 0xff), "one\n");
    writeFileSync(named(path.join(fx.deployPath, "current"), 0xfe), "two\n");
    const v = await cutover(["verify"], fx.app);
    assert.equal(v.code, 1, v.stdout + v.stderr);
    assert.match(v.stdout, /no manifest can tell them apart/);
  } finally {
    rmSync(path.join(fx.app, "bytes"), { recursive: true, force: true });
    rmSync(path.join(fx.deployPath, "current/bytes"), { recursive: true, force: true });
  }
});
