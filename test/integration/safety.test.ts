import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { BIN, cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { assertCurrentComplete, snapshot } from "../helpers/tree.js";

const fx = fixture();
after(() => fx.cleanup());
const live = () => path.basename(realpathSync(path.join(fx.deployPath, "current")));

test("setup: one good release", async () => {
  const r = await cutover(["deploy", "-q"], fx.app);
  assert.equal(r.code, 0, r.stderr);
});

test("bad input never changes anything on the target", async () => {
  const before = snapshot(fx.deployPath);
  const cases: [string, string[], RegExp][] = [
    [
      "keep_relases: 3\nstages:\n  test:\n    hosts:\n      - path: P\n",
      ["deploy"],
      /keep_relases: unknown key; did you mean "keep_releases"\?/,
    ],
    ["stages:\n  test:\n    hosts:\n      - path: P\n    hooks: {build: [\n", ["deploy"], /invalid YAML/],
    [
      "shared_files: [missing.env]\nstages:\n  test:\n    hosts:\n      - path: P\n",
      ["deploy"],
      /shared file "missing\.env" exists neither in .* nor in the source/,
    ],
    [
      "source: nowhere\nstages:\n  test:\n    hosts:\n      - path: P\n",
      ["deploy"],
      /source: .*nowhere is not a directory/,
    ],
    ["stages:\n  test:\n    hosts:\n      - path: P\n", ["deploy", "prod"], /no stage "prod"/],
    [
      "stages:\n  test:\n    hosts:\n      - path: P\n",
      ["rollback", "--to", "20200101T000000Z"],
      /release 20200101T000000Z does not exist/,
    ],
    [
      "stages:\n  test:\n    hosts:\n      - path: P\n",
      ["rollback", "--to", "nope"],
      /release nope does not exist/,
    ],
    [
      "stages:\n  test:\n    hosts:\n      - path: P\n",
      ["diff", "test", "../../../../etc/hostname", "20200101T000000Z"],
      /release \.\.\/\.\.\/\.\.\/\.\.\/etc\/hostname does not exist/,
    ],
    [
      "stages:\n  test:\n    hosts:\n      - path: P\n",
      ["--json", "diff", "test", "20200101T000000Z"],
      /release 20200101T000000Z does not exist/,
    ],
    [
      "stages:\n  test:\n    hosts:\n      - path: P\n",
      ["deploy", "--hosts", "nope"],
      /--hosts: no host named nope/,
    ],
    [
      "stages:\n  test:\n    hosts:\n      - path: P\n",
      ["deploy", "--lock-wait", "soon"],
      /--lock-wait: expected a number/,
    ],
    [
      "stages:\n  test:\n    hosts:\n      - path: P\n",
      ["deploy", "--dry-run", "--lock-wait", "-1"],
      /--lock-wait: expected a number/,
    ],
    [
      "stages:\n  test:\n    hosts:\n      - path: P\n",
      ["rollback", "--dry-run", "--lock-wait", "soon"],
      /--lock-wait: expected a number/,
    ],
  ];
  for (const [yaml, args, message] of cases) {
    writeFileSync(fx.config, yaml.replace("P", JSON.stringify(fx.deployPath)));
    const r = await cutover(args, fx.app);
    // Usage: the user asked for what is not there; nothing was tried, nothing changed.
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    const firstLine = r.stderr.trim().split("\n")[0]!;
    assert.match(firstLine, /^error: /, r.stderr);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    assert.deepEqual(snapshot(fx.deployPath), before, `${args.join(" ")} changed the target`);
  }
  fx.writeConfig();
});

test("a bad first deploy leaves no trace on a fresh path", async () => {
  const fresh = path.join(fx.dir, "fresh target");
  fx.writeConfig({ shared_files: ["nothere.env"] }, [{ path: fresh }]);
  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 2, r.stderr);
  assert.ok(!existsSync(fresh), "nothing was created");
  fx.writeConfig();
});

test("current as a real directory is refused with the migration command", async () => {
  const other = path.join(fx.dir, "legacy");
  mkdirSync(path.join(other, "current"), { recursive: true });
  writeFileSync(path.join(other, "current/index.php"), "legacy");
  const before = snapshot(other);
  fx.writeConfig({}, [{ path: other }]);
  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /current is a real directory, not a symlink/);
  assert.match(r.stderr, /fix: run `cutover adopt --migrate` first/);
  const after_ = snapshot(other);
  assert.deepEqual(after_, before);
  fx.writeConfig();
});

test("two deploys started together: exactly one wins, the other names the lock holder", async () => {
  fx.writeConfig({ hooks: { build: ["sleep 1"] } });
  const [a, b] = await Promise.all([cutover(["deploy"], fx.app), cutover(["deploy"], fx.app)]);
  const codes = [a.code, b.code].sort();
  assert.deepEqual(codes, [0, 3], `${a.stderr}\n${b.stderr}`);
  const loser = a.code === 3 ? a : b;
  assert.match(loser.stderr, /is locked by .*pid \d+ on .*running "cutover deploy"\) since \d{4}-/);
  assert.ok(!existsSync(path.join(fx.deployPath, ".cutover/lock")));
  fx.writeConfig();
});

test("--lock-wait waits for the other run instead of failing", async () => {
  fx.writeConfig({ hooks: { build: ["sleep 1"] } });
  const first = cutover(["deploy", "-q"], fx.app);
  await new Promise((r) => setTimeout(r, 400));
  const second = await cutover(["deploy", "-q", "--lock-wait", "30"], fx.app);
  assert.equal((await first).code, 0);
  assert.equal(second.code, 0, second.stderr);
  fx.writeConfig();
});

test("a source file changed while waiting for the lock: the source is indexed again, the change goes as a delta", async () => {
  fx.writeConfig();
  // Two deploys: the second is a delta upload, which leaves this machine's hash cache for the source,
  // so the next run indexes it while it connects.
  for (const v of ["a", "b"]) {
    fx.file("src/waited.php", `<?php // ${v}\n`);
    assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  }
  fx.writeConfig({ hooks: { build: ["sleep 2"] } });
  const first = cutover(["deploy", "-q"], fx.app);
  await new Promise((r) => setTimeout(r, 400));
  const second = cutover(["deploy", "--lock-wait", "30"], fx.app);
  // Indexed early by now (a tiny source), and still waiting for the first run's lock.
  await new Promise((r) => setTimeout(r, 900));
  fx.file("src/waited.php", "<?php // changed while waiting\n");
  assert.equal((await first).code, 0);
  const r = await second;
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /changed in the source during the deploy|linking none/);
  const live = realpathSync(path.join(fx.deployPath, "current"));
  assert.equal(readFileSync(path.join(live, "src/waited.php"), "utf8"), "<?php // changed while waiting\n");
  fx.writeConfig();
});

test("SIGTERM during the build: lock released, current untouched, release marked failed, exit 130", async () => {
  fx.writeConfig({ hooks: { build: ["sleep 5"] } });
  const before = live();
  const child = spawn(process.execPath, [BIN, "deploy"], {
    cwd: fx.app,
    env: { ...process.env, NO_COLOR: "1" },
  });
  let stderr = "";
  let sent = false;
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
    if (!sent && stderr.includes("prepare writable")) {
      sent = true;
      child.kill("SIGTERM");
    }
  });
  const code = await new Promise<number | null>((r) => child.on("close", r));
  assert.equal(code, 130, stderr);
  assert.equal(live(), before);
  assert.ok(!existsSync(path.join(fx.deployPath, ".cutover/lock")), "lock released");
  const history = readFileSync(path.join(fx.deployPath, ".cutover/history.jsonl"), "utf8").trim().split("\n");
  assert.match(history.at(-1)!, /"outcome":"aborted"/);
  fx.writeConfig();
});

test("a lock left by a killed run is stale: the next deploy clears it and says so; unlock clears one on demand", async () => {
  fx.writeConfig({ hooks: { build: ["sleep 5"] } });
  const child = spawn(process.execPath, [BIN, "deploy"], {
    cwd: fx.app,
    env: { ...process.env, NO_COLOR: "1" },
  });
  let stderr = "";
  await new Promise<void>((resolve) => {
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes("prepare writable")) resolve();
    });
  });
  child.kill("SIGKILL");
  await new Promise((r) => child.on("close", r));
  assert.ok(existsSync(path.join(fx.deployPath, ".cutover/lock/owner.json")));
  const u = await cutover(["unlock"], fx.app);
  assert.equal(u.code, 0, u.stderr);
  assert.match(u.stdout, /cleared the lock of .* \(stale\)/);
  assert.match(readFileSync(path.join(fx.deployPath, ".cutover/history.jsonl"), "utf8"), /"event":"unlock"/);
  fx.writeConfig();
  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /an earlier run was interrupted: removing incomplete release/);
  assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
});

test("a run stopped by a busy host leaves no trace on the others (not even a new deploy path)", async () => {
  const fresh = path.join(fx.dir, "fresh host");
  const busy = path.join(fx.dir, "busy host");
  mkdirSync(path.join(busy, ".cutover/lock"), { recursive: true });
  const owner = {
    token: "t",
    who: "someone@elsewhere",
    machine: os.hostname(),
    pid: process.pid,
    since: new Date().toISOString(),
    command: "cutover deploy",
  };
  writeFileSync(path.join(busy, ".cutover/lock/owner.json"), JSON.stringify(owner));
  fx.writeConfig({}, [
    { name: "fresh", path: fresh },
    { name: "busy", path: busy },
  ]);
  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /busy: .* is locked by someone@elsewhere/);
  assert.ok(!existsSync(fresh), "the fresh host's deploy path was removed again");
  fx.writeConfig();
});
