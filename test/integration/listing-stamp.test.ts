/**
 * The listing a manifest is made from stamps the release directory (the manifest file takes that
 * mtime; the next deploy takes what is newer than it as changed since). File times move in steps
 * (a jiffy here), so a change right after a plain touch gets the stamp's own time and would pass
 * for unchanged: the stamp must be older than any change made after the listing starts.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { STAMP_LISTING_START } from "../../src/plan/listing-stamp.js";
import { manifestProbe } from "../../src/plan/manifest.js";
import { relistProbe } from "../../src/plan/relist.js";
import { type Cmd, renderScript } from "../../src/shell/cmd.js";
import { wrapCommand } from "../helpers/bin.js";
import { scratchDir } from "../helpers/scratch.js";

/** A release in releases/ with a file in a subdirectory. */
function release(): { parent: string; dir: string } {
  const parent = scratchDir("cutover-stamp-");
  const dir = path.join(parent, "20200101T000000Z");
  mkdirSync(path.join(dir, "src"), { recursive: true });
  writeFileSync(path.join(dir, "src/lib.php"), "<?php\n");
  return { parent, dir };
}

/**
 * Runs `script` in each of `rounds` rounds, then at once edits a file in place and makes one (as the
 * app could): the rounds where either is not newer than the release directory.
 */
function missedChanges(dir: string, script: string, rounds = 20, env = process.env): string[] {
  let all = "";
  for (let i = 0; i < rounds; i++)
    all += `${script}\ncd -- '${dir}' && printf x >> src/lib.php && : > src/new${i}.php && { find src/lib.php src/new${i}.php -newer . | wc -l | grep -qx 2 || echo "round ${i}: not newer"; }\n`;
  const out = execFileSync("sh", ["-c", all], { encoding: "utf8", maxBuffer: 64 << 20, env });
  return out.split("\n").filter((l) => l.startsWith("round "));
}

test("the stamp: a change right after it is newer, every time (after a plain touch it mostly is not)", () => {
  const { parent, dir } = release();
  assert.deepEqual(missedChanges(dir, `${STAMP_LISTING_START}\ncd -- '${dir}' && stamp_listing_start`), []);
  // The probes the wait made beside the release are gone.
  assert.deepEqual(readdirSync(parent), [path.basename(dir)]);
});

test("no probe can be made (mktemp fails): a second is waited instead, and a change right after is newer", () => {
  const { parent, dir } = release();
  const bin = path.join(scratchDir("cutover-no-mktemp-"), "bin");
  const slept = path.join(bin, "slept");
  wrapCommand(bin, "mktemp", "exit 1");
  wrapCommand(bin, "sleep", `echo "$*" >> '${slept}'`);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  const script = `${STAMP_LISTING_START}\ncd -- '${dir}' && stamp_listing_start`;
  assert.deepEqual(missedChanges(dir, script, 3, env), []);
  // On this machine's 4 ms clock step the first pause alone mostly covers it: the second is what
  // covers a file system of whole seconds.
  assert.equal(readFileSync(slept, "utf8"), "0.002\n1\n".repeat(3));
  assert.deepEqual(readdirSync(parent), [path.basename(dir)]);
});

// The programs take longer than a clock step here, so these pass with a plain touch too; on the CI
// machine an edit right after the relist was missed (previous-release.test.ts).
for (const [name, listing] of [
  ["the manifest listing", (dir: string) => manifestProbe(dir, undefined, false, true)],
  ["the relist after a delta upload", (dir: string) => relistProbe(dir, path.join(dir, "src/lib.php"), [])],
] as const satisfies readonly (readonly [string, (dir: string) => Cmd])[])
  test(`${name}: a change right after it is newer than the stamp, every time`, () => {
    const { parent, dir } = release();
    assert.deepEqual(missedChanges(dir, renderScript([listing(dir)])), []);
    assert.deepEqual(readdirSync(parent), [path.basename(dir)]);
  });

test("what else is beside the release stays as it was, a fifo included: the probes are new names", () => {
  const { parent, dir } = release();
  // Fifos under this mktemp template and under the names an earlier version predicted from the
  // release id (a write into one blocks until something reads it).
  const fifos = [".cutover-clock-probe.fifo", `.${path.basename(dir)}.clock-probe.1`];
  for (const f of fifos) execFileSync("mkfifo", [path.join(parent, f)]);
  writeFileSync(path.join(parent, "notes"), "not cutover's\n");
  const script = renderScript([manifestProbe(dir, undefined, false, true)]);
  execFileSync("sh", ["-c", script], { stdio: "ignore", timeout: 10_000 });
  assert.deepEqual(readdirSync(parent).sort(), [...fifos, path.basename(dir), "notes"].sort());
});
