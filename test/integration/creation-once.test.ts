import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { wrapCommand } from "../helpers/bin.js";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";

/**
 * Whatever way a delta upload goes (inline, rsync, the classic way before or after its first round
 * trip), the creation step (its `mkdir -p` of cutover's dirs, then the release's metadata and
 * `mkdir -- releases/ID`) runs exactly once, before any rsync. Logged by wrapped mkdir and rsync.
 */
const fx = fixture();
after(() => fx.cleanup());
for (let i = 0; i < 40; i++) fx.file(`src/F${i}.php`, `<?php // ${i}\n`);
const log = path.join(fx.dir, "calls.log");
const releases = path.join(fx.deployPath, "releases");
const bin = path.join(fx.dir, "bin-log");
wrapCommand(bin, "mkdir", `[ "$1 $2 $3" = '-p -- ${releases}' ] && echo create >> '${log}'`);
wrapCommand(bin, "rsync", `echo rsync >> '${log}'`);
const cache = path.join(fx.dir, "cache");
const env = { PATH: `${bin}:${process.env.PATH}`, XDG_CACHE_HOME: cache };

async function deployLogged(): Promise<{ release: string; calls: string[]; stderr: string }> {
  rmSync(log, { force: true });
  const r = await cutover(["--json", "deploy"], fx.app, env);
  assert.equal(r.code, 0, r.stderr);
  const calls = readFileSync(log, "utf8").trim().split("\n");
  return { release: json<{ release: string }>(r).release, calls, stderr: r.stderr };
}

function assertCreatedOnceBeforeRsync(calls: readonly string[]): void {
  assert.equal(calls.filter((c) => c === "create").length, 1, calls.join(","));
  const rsync = calls.indexOf("rsync");
  if (rsync >= 0) assert.ok(calls.indexOf("create") < rsync, calls.join(","));
}

let last = "";

test("first deploy (no delta): created once", async () => {
  const r = await deployLogged();
  assertCreatedOnceBeforeRsync(r.calls);
  last = r.release;
});

test("inline delta: created once, no rsync", async () => {
  fx.file("src/F1.php", "<?php // one change\n");
  const r = await deployLogged();
  assert.ok(!r.calls.includes("rsync"), r.calls.join(","));
  assertCreatedOnceBeforeRsync(r.calls);
  last = r.release;
});

test("rsync delta (more changes than inline takes): created once, before rsync", async () => {
  for (let i = 0; i < 30; i++) fx.file(`src/F${i}.php`, `<?php // changed ${i}\n`);
  const r = await deployLogged();
  assert.ok(r.calls.includes("rsync"), r.calls.join(","));
  assertCreatedOnceBeforeRsync(r.calls);
  last = r.release;
});

test("the host's manifest is not the recorded one (classic before the first round trip): created once, before rsync", async () => {
  const manifest = path.join(fx.deployPath, ".cutover/releases", `${last}.manifest`);
  writeFileSync(manifest, `${readFileSync(manifest, "utf8")}"extra" f 644 ${"0".repeat(64)}\n`);
  rmSync(path.join(cache, "cutover/manifests"), { recursive: true, force: true });
  fx.file("src/F2.php", "<?php // tampered base\n");
  const r = await deployLogged();
  assertCreatedOnceBeforeRsync(r.calls);
  last = r.release;
});

test("the link fails (a file of the previous release turned into a directory): created once, emptied, rsync", async () => {
  rmSync(path.join(releases, last, "src/lib.php"));
  mkdirSync(path.join(releases, last, "src/lib.php"));
  fx.file("src/F3.php", "<?php // after a broken base\n");
  const r = await deployLogged();
  assert.match(r.stderr, /linking none/);
  assertCreatedOnceBeforeRsync(r.calls);
});
