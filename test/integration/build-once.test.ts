import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import type { Emit } from "../../src/engine/events.js";

import { deploy, loadStage } from "../../src/index.js";
import { BIN, cutover, json } from "../helpers/cli.js";
import { wrapExecutors } from "../helpers/executors.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";
import { assertCurrentComplete } from "../helpers/tree.js";

interface Result {
  ok: boolean;
  release: string;
  error?: { message: string };
}

/** build.local: built once here, the build uploaded to every host and verified there before the switch. */
const fx = fixture();
after(() => fx.cleanup());
const paths = ["a", "b", "c"].map((n) => path.join(fx.dir, `host ${n}`));
const hosts = paths.map((p, i) => ({ name: `web${i + 1}`, path: p }));
const live = (p: string) =>
  existsSync(path.join(p, "current")) ? path.basename(realpathSync(path.join(p, "current"))) : null;
const counter = path.join(fx.dir, "builds ran");
const build = {
  local: [
    'printf "run\\n" >> "$BUILD_COUNTER"',
    "mkdir -p vendor && printf '<?php // autoload for %s\\n' \"$(cat src/lib.php | wc -c)\" > vendor/autoload.php",
  ],
};
const runs = () =>
  existsSync(counter) ? readFileSync(counter, "utf8").split("\n").filter(Boolean).length : 0;
const env = { BUILD_COUNTER: counter };

test("upload strategy: the build runs once, its result lands on every host, each host verifies it", async () => {
  fx.file(".git/HEAD", "not shipped\n");
  fx.writeConfig({ build }, hosts);
  const r = await cutover(["--json", "deploy"], fx.app, env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(runs(), 1, "build.local ran exactly once for three hosts");
  const { release } = json<Result>(r);
  for (const p of paths) {
    assert.equal(live(p), release);
    assert.match(readFileSync(path.join(p, "current/vendor/autoload.php"), "utf8"), /autoload for \d+/);
    assert.ok(!existsSync(path.join(p, "current/.git")), "excluded paths stay out of the build");
    assert.ok(!existsSync(path.join(p, "current/cutover.yaml")));
    assertCurrentComplete(p, ["bootstrap/cache"]);
  }
  assert.equal((r.stderr.match(/✓ web\d verify upload against the local build/g) ?? []).length, 3, r.stderr);
});

test("--dry-run names the build and the verification, and builds nothing", async () => {
  const counted = runs();
  const r = await cutover(["deploy", "--dry-run"], fx.app, env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /== build once, on this machine[^\n]*\n {2}printf "run\\n" >> "\$BUILD_COUNTER"/);
  assert.match(r.stdout, /# verify upload against the local build/);
  assert.equal(runs(), counted);
});

test("a failing build command: nothing is uploaded, no host changes", async () => {
  const before = paths.map(live);
  fx.writeConfig({ build: { local: ["echo broken >&2; exit 7"] } }, hosts);
  const r = await cutover(["--json", "deploy"], fx.app, env);
  assert.equal(r.code, 1);
  assert.match(json<Result>(r).error!.message, /build\.local command failed: echo broken/);
  assert.match(r.stderr, /broken/);
  assert.deepEqual(paths.map(live), before);
});

test("SIGTERM during the local build: the build's processes are stopped, exit 130, no host changes", async () => {
  const before = paths.map(live);
  const pidFile = path.join(fx.dir, "build pid");
  fx.writeConfig({ build: { local: ['echo $$ > "$BUILD_PID"; exec sleep 60'] } }, hosts);
  const child = spawn(process.execPath, [BIN, "deploy"], {
    cwd: fx.app,
    env: { ...process.env, NO_COLOR: "1", BUILD_PID: pidFile },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  // The shell creates the file before it writes to it: wait for its content, not for the file.
  const written = () => (existsSync(pidFile) ? readFileSync(pidFile, "utf8").trim() : "");
  for (let i = 0; i < 200 && written() === ""; i++) await new Promise((r) => setTimeout(r, 50));
  const buildPid = Number(written());
  assert.ok(existsSync(`/proc/${buildPid}`), "the build runs");
  const started = Date.now();
  child.kill("SIGTERM");
  assert.equal(await exited, 130, stderr);
  assert.ok(Date.now() - started < 10_000);
  assert.ok(!existsSync(`/proc/${buildPid}`), "the build's process is gone");
  assert.match(stderr, /interrupted by a signal during the local build/);
  assert.deepEqual(paths.map(live), before);
});

test("a byte flipped in one host's upload: that host refuses, nobody switches", async () => {
  fx.writeConfig({ build }, hosts);
  // A change to upload: a delta upload sends only what the hosts lack, and the corruption hits what is sent.
  appendFileSync(path.join(fx.app, "src/lib.php"), "// changed\n");
  const before = paths.map(live);
  const counted = runs();
  // Real executors; once web2's upload is done (an rsync, or the delta's checked round trip), one byte
  // of one uploaded file changes (a new inode: the earlier releases it may be linked to stay intact).
  let flipped = false;
  const flip = (host: string, releaseDir: string) => {
    if (host !== "web2" || flipped) return;
    flipped = true;
    const file = path.join(releaseDir, "vendor/autoload.php");
    const bytes = readFileSync(file);
    bytes[0] = bytes[0]! ^ 1;
    writeFileSync(`${file}.flip`, bytes);
    renameSync(`${file}.flip`, file);
  };
  const corrupting = wrapExecutors({
    run: async (real, host, cmds, o) => {
      const result = await real.run(cmds, o);
      const check = cmds.find((c) => c.label === "check the new release");
      if (check) flip(host.name, check.argv[4]!);
      return result;
    },
    transfer: async (real, host, t, o) => {
      const stats = await real.transfer(t, o);
      if (t.directory) flip(host.name, t.to);
      return stats;
    },
  });
  process.env.BUILD_COUNTER = counter;
  const quiet: Emit = () => undefined;
  const result = await deploy({
    stage: loadStage({ cwd: fx.app }),
    emit: quiet,
    command: "cutover deploy (test)",
    executors: corrupting,
  });
  assert.equal(result.exitCode, 1);
  assert.equal(runs(), counted + 1);
  assert.match(
    result.error?.message ?? "",
    /web2: verify upload against the local build failed \(the upload's manifest checksum sha256:[0-9a-f]{64} is not the local build's/,
  );
  assert.deepEqual(paths.map(live), before, "nobody switched");
  for (const p of paths) assertCurrentComplete(p, ["bootstrap/cache"]);
});

test("strategy: git with build.local: the commit is exported and built here once, then uploaded", async () => {
  const origin = gitOrigin(path.join(fx.dir, "origin"));
  const commit = origin.commit(
    { "public/index.php": "<?php echo 'git';\n", "src/lib.php": "<?php\n", "storage/uploads/.keep": "" },
    "from git",
  );
  fx.writeConfig({ build, strategy: "git", repository: origin.bare, ref: "main" }, hosts);
  const counted = runs();
  const r = await cutover(["--json", "deploy"], fx.app, env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(runs(), counted + 1);
  const { release } = json<Result>(r);
  for (const p of paths) {
    assert.equal(live(p), release);
    assert.equal(readFileSync(path.join(p, "current/public/index.php"), "utf8"), "<?php echo 'git';\n");
    assert.equal(
      readFileSync(path.join(p, "current/vendor/autoload.php"), "utf8"),
      "<?php // autoload for 6\n",
    );
    const meta = JSON.parse(readFileSync(path.join(p, ".cutover/releases", `${release}.json`), "utf8"));
    assert.equal(meta.revision.commit, commit);
    assert.equal(meta.revision.subject, "from git");
    assert.equal(meta.revision.author, "Ada Author <ada@example.test>");
    assert.ok(!existsSync(path.join(p, ".cutover/repo")), "built here: the hosts need no mirror");
    assertCurrentComplete(p, ["bootstrap/cache"]);
  }
  // doctor asks no git of the hosts (they have no mirror and need none): a leftover link there is no finding.
  symlinkSync(fx.dir, path.join(paths[0]!, ".cutover/repo"));
  const noWebConfigs = path.join(fx.dir, "no web configs");
  mkdirSync(noWebConfigs, { recursive: true });
  const doctor = await cutover(["--json", "doctor", "--web-config", noWebConfigs], fx.app);
  const findings = json<{ host: string; check: string; message: string }[]>(doctor);
  assert.deepEqual(
    findings.filter((f) => f.check === "git"),
    [],
    "no git finding",
  );
  // --timings counts the local build's steps.
  origin.commit({ "public/index.php": "<?php echo 'git 2';\n" }, "second");
  const timed = await cutover(["--json", "deploy", "--timings"], fx.app, env);
  assert.equal(timed.code, 0, timed.stderr);
  assert.doesNotMatch(timed.stderr, /undefined/, "each local build step says how long it took");
  const steps = json<{ timings: { steps: { host: string; step: string; ms: number }[] } }>(timed).timings
    .steps;
  const built = steps.filter((s) => s.step.startsWith("build: "));
  assert.equal(built.length, build.local.length, JSON.stringify(steps));
  assert.ok(
    built.every((s) => Number.isFinite(s.ms)),
    JSON.stringify(built),
  );
});

test("a build whose output links a shared path (or its parent) outside: the link is taken out, never what it points to", async () => {
  const outside = path.join(fx.dir, "outside");
  mkdirSync(path.join(outside, "parent/uploads"), { recursive: true });
  mkdirSync(path.join(outside, "leaf"), { recursive: true });
  writeFileSync(path.join(outside, "parent/uploads/keep.txt"), "keep\n");
  writeFileSync(path.join(outside, "leaf/keep.txt"), "keep\n");
  const before = paths.map(live);
  for (const link of [
    `rm -rf storage && ln -s '${outside}/parent' storage`,
    `rm -rf storage/uploads && mkdir -p storage && ln -s '${outside}/leaf' storage/uploads`,
  ]) {
    fx.writeConfig({ build: { local: [link] } }, hosts);
    const r = await cutover(["--json", "deploy"], fx.app, env);
    assert.equal(readFileSync(path.join(outside, "parent/uploads/keep.txt"), "utf8"), "keep\n", r.stderr);
    assert.equal(readFileSync(path.join(outside, "leaf/keep.txt"), "utf8"), "keep\n", r.stderr);
    if (r.code !== 0) assert.deepEqual(paths.map(live), before, "a refused build switches nobody");
    for (const p of paths) assertCurrentComplete(p, ["bootstrap/cache"]);
  }
});
