import assert from "node:assert/strict";
import { chmodSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";

/**
 * What the fast path must never trade away (issue 13): after an incremental deploy every unchanged
 * file is the previous release's inode, a mode-only change is a new inode (the previous release
 * keeps its mode), the manifest agrees with verify, and the scan for paths through current still
 * reads unchanged files. Also `--timings`, which shows where a deploy's time went.
 */
interface Timings {
  total_ms: number;
  phases: { phase: string; ms: number }[];
  steps: { host: string; step: string; ms: number; ok: boolean }[];
}
interface Result {
  ok: boolean;
  release: string;
  previous: string | null;
  timings?: Timings;
}

const fx = fixture();
after(() => fx.cleanup());
const releaseFile = (id: string, rel: string) => path.join(fx.deployPath, "releases", id, rel);
const manifestLine = (id: string, rel: string) =>
  readFileSync(path.join(fx.deployPath, ".cutover/releases", `${id}.manifest`), "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${JSON.stringify(rel)} `));

/** Every regular file of a release (relative path → inode), shared/ links left out. */
function inodes(id: string): Map<string, number> {
  const root = path.join(fx.deployPath, "releases", id);
  const out = new Map<string, number>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile()) out.set(path.relative(root, full), statSync(full).ino);
    }
  };
  walk(root);
  return out;
}

/** A deploy's result, with the warnings it printed (the scan's warning is progress, on stderr). */
async function deploy(args: string[] = []): Promise<Result & { warned: string[] }> {
  const r = await cutover(["--json", "deploy", ...args], fx.app);
  assert.equal(r.code, 0, r.stderr);
  return { ...json<Result>(r), warned: r.stderr.split("\n").filter((l) => l.startsWith("warning:")) };
}

const CURRENT_IN = (p: string) => `<?php require '${p}/current/vendor/autoload.php';\n`;
let first = "";

test("first deploy: the scan finds a path through current", async () => {
  for (let i = 0; i < 40; i++) fx.file(`src/many/File${i}.php`, `<?php // ${i}\n`);
  fx.file("src/boot.php", CURRENT_IN(fx.deployPath));
  const r = await deploy();
  first = r.release;
  assert.ok(
    r.warned.some((w) => w.includes("current/") && w.includes("1 place")),
    `warned: ${r.warned.join(" | ")}`,
  );
});

test("incremental deploy with a mode-only change: new inode for it, every other unchanged file shared, old mode kept", async () => {
  const before = inodes(first);
  const oldMode = statSync(releaseFile(first, "src/many/File3.php")).mode & 0o777;
  chmodSync(path.join(fx.app, "src/many/File3.php"), 0o755);
  fx.file("src/many/File7.php", "<?php // changed content\n");
  const r = await deploy(["--timings"]);
  assert.equal(r.previous, first);
  const now = inodes(r.release);
  const changed = new Set(["src/many/File3.php", "src/many/File7.php"]);
  for (const [rel, ino] of now) {
    if (changed.has(rel) || !before.has(rel)) continue;
    assert.equal(ino, before.get(rel), `${rel} is a hard link to the previous release`);
  }
  for (const rel of changed) assert.notEqual(now.get(rel), before.get(rel), `${rel} is a new inode`);
  assert.equal(statSync(releaseFile(r.release, "src/many/File3.php")).mode & 0o777, 0o755);
  assert.equal(
    statSync(releaseFile(first, "src/many/File3.php")).mode & 0o777,
    oldMode,
    "old release keeps its mode",
  );
  assert.equal(readFileSync(releaseFile(first, "src/many/File7.php"), "utf8"), "<?php // 7\n");
  assert.match(manifestLine(r.release, "src/many/File3.php") ?? "", / f 755 /);
  assert.match(manifestLine(first, "src/many/File3.php") ?? "", new RegExp(` f ${oldMode.toString(8)} `));
  // The unchanged file that names current is scanned again (hash reuse does not skip the scan).
  assert.ok(
    r.warned.some((w) => w.includes("current/") && w.includes("1 place")),
    r.warned.join(" | "),
  );
});

test("a changed file that now names current is found as well", async () => {
  fx.file("src/many/File9.php", CURRENT_IN(fx.deployPath));
  const r = await deploy();
  assert.ok(
    r.warned.some((w) => w.includes("2 places")),
    r.warned.join(" | "),
  );
});

test("the manifest and verify agree; negative control: a mode changed on the host is caught", async () => {
  const ok = await cutover(["--json", "verify"], fx.app);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const live = path.basename(realpathSync(path.join(fx.deployPath, "current")));
  const file = releaseFile(live, "src/many/File9.php");
  const mode = statSync(file).mode & 0o7777; // as the umask made it
  chmodSync(file, mode === 0o600 ? 0o640 : 0o600);
  const bad = await cutover(["--json", "verify"], fx.app);
  assert.equal(bad.code, 1, bad.stdout);
  chmodSync(file, mode);
  assert.equal((await cutover(["verify"], fx.app)).code, 0);
});

test("--timings: phases and each host's steps, as a table and in --json", async () => {
  writeFileSync(path.join(fx.app, "src/lib.php"), "<?php function version() { return 'timed'; }\n");
  const r = await cutover(["--json", "deploy", "--timings"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const t = json<Result>(r).timings!;
  const phases = t.phases.map((p) => p.phase);
  assert.equal(phases[0], "start: node, cutover, config");
  assert.equal(phases[1], "connect, lock and read hosts");
  assert.ok(phases.some((p) => p.startsWith("prepare release")));
  assert.ok(phases.some((p) => p.startsWith("switch 1 host")));
  const steps = new Map(t.steps.map((s) => [s.step, s]));
  for (const step of [
    "connect, lock and read host",
    "upload files",
    "record manifest and checksum",
    "switch current",
  ]) {
    assert.ok(steps.has(step), `${step} timed: ${[...steps.keys()].join(", ")}`);
    assert.ok(Number.isInteger(steps.get(step)!.ms) && steps.get(step)!.ms >= 0);
  }
  const sum = t.phases.reduce((a, p) => a + p.ms, 0);
  assert.ok(
    Math.abs(sum - t.total_ms) <= t.phases.length,
    `phases add up to the total (${sum} vs ${t.total_ms})`,
  );
  // Without --json the same as a table on stdout; without --timings nothing of it.
  const text = await cutover(["deploy", "--timings"], fx.app);
  assert.match(text.stdout, /^timings \(\d+ ms in all\)$/m);
  assert.match(text.stdout, /^ {2}upload files +\d+$/m);
  const plain = await cutover(["--json", "deploy"], fx.app);
  assert.equal(json<Result>(plain).timings, undefined);
  assert.doesNotMatch(plain.stderr, /timings/);
});

test("rollback --timings", async () => {
  const r = await cutover(["--json", "rollback", "--timings"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const t = json<Result>(r).timings!;
  assert.ok(t.steps.some((s) => s.step === "switch current"));
  assert.ok(t.phases.some((p) => p.phase.startsWith("switch 1 host")));
});
