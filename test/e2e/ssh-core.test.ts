import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  existsSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { BIN, cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { type Sshd, type SshRig, sshHost, sshRig } from "../helpers/sshd.js";
import { assertCurrentComplete } from "../helpers/tree.js";

interface Result {
  ok: boolean;
  release: string;
  filesTransferred: number;
  hosts: { host: string; state: string; serving: string | null }[];
}

let rig: SshRig;
let sshd: Sshd;
const fx = fixture();
const local = path.join(fx.dir, "local target ü");
const live = (p: string) => path.basename(realpathSync(path.join(p, "current")));
const connections = () => (sshd.log().match(/Accepted publickey/g) ?? []).length;

before(async () => {
  rig = sshRig();
  sshd = await rig.start();
  fx.writeConfig({}, [sshHost(rig, sshd, fx.deployPath, { name: "web1" }), { name: "here", path: local }]);
});
after(async () => {
  await rig.stopAll();
  fx.cleanup();
});

test("deploy over SSH (mixed with a local host): one connection per host per run, hard links, shared data", async () => {
  const before = connections();
  let r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const first = json<Result>(r).release;
  assert.equal(connections() - before, 1, "exactly one SSH connection for the whole deploy");
  assert.equal(live(fx.deployPath), first);
  assert.equal(live(local), first);
  assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);

  writeFileSync(path.join(fx.deployPath, "shared/storage/uploads/by-app.txt"), "keep me");
  fx.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
  const mid = connections();
  r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const second = json<Result>(r).release;
  assert.equal(connections() - mid, 1);
  assert.equal(json<Result>(r).filesTransferred, 2, "one changed file on each of the two hosts");
  const ino = (id: string) => statSync(path.join(fx.deployPath, "releases", id, "public/index.php")).ino;
  assert.equal(ino(first), ino(second), "unchanged files are hard links on the SSH host too");
  assert.equal(
    readFileSync(path.join(fx.deployPath, "current/storage/uploads/by-app.txt"), "utf8"),
    "keep me",
  );
  assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);

  r = await cutover(["rollback"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(live(fx.deployPath), first);
  assert.equal(live(local), first);
  r = await cutover(["verify"], fx.app);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /web1 .* ok: checksum matches/);
});

test("releases and history merge the hosts; a host that disagrees is flagged", async () => {
  const rows = json<
    { id: string; hosts: Record<string, { state: string; live: boolean }>; disagree: boolean }[]
  >(await cutover(["--json", "releases"], fx.app));
  assert.deepEqual(Object.keys(rows[0]!.hosts).sort(), ["here", "web1"]);
  assert.ok(rows.every((r) => !r.disagree));
  const id = rows[0]!.id;
  const metaFile = path.join(local, ".cutover/releases", `${id}.json`);
  writeFileSync(metaFile, readFileSync(metaFile, "utf8").replace(/"state":"\w[\w-]*"/, '"state":"failed"'));
  const again = json<{ id: string; disagree: boolean }[]>(await cutover(["--json", "releases"], fx.app));
  assert.equal(again.find((r) => r.id === id)!.disagree, true);
  const text = await cutover(["releases"], fx.app);
  assert.match(text.stdout, /hosts disagree/);
  const history = json<{ host: string; event: string }[]>(await cutover(["--json", "history"], fx.app));
  assert.deepEqual([...new Set(history.map((h) => h.host))].sort(), ["here", "web1"]);
  const rollbacks = history.filter((h) => h.event === "rollback");
  assert.equal(rollbacks.length, 2);
});

test("--hosts limits a run to some hosts", async () => {
  fx.file("src/lib.php", "<?php function version() { return 'v3'; }\n");
  const before = live(local);
  const r = await cutover(["--json", "deploy", "--hosts", "web1"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(live(fx.deployPath), json<Result>(r).release);
  assert.equal(live(local), before);
});

test("a failing build hook over SSH: nothing switches anywhere, lock released on every host", async () => {
  fx.writeConfig(
    { hooks: { build: ['[ "$CUTOVER_HOST" = here ] || { echo "vendor missing" >&2; exit 3; }'] } },
    [sshHost(rig, sshd, fx.deployPath, { name: "web1" }), { name: "here", path: local }],
  );
  const before = [live(fx.deployPath), live(local)];
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /web1: build hook "\[ \\"\$CUTOVER_HOST\\" = here \].*" failed \(exit 3\)/);
  assert.match(r.stderr, /vendor missing/);
  assert.deepEqual([live(fx.deployPath), live(local)], before);
  assert.ok(
    !existsSync(path.join(fx.deployPath, ".cutover/lock")) && !existsSync(path.join(local, ".cutover/lock")),
  );
  const hosts = json<Result>(r).hosts;
  assert.deepEqual(
    hosts.map((h) => h.state),
    ["unchanged", "unchanged"],
  );
});

test("over SSH: two deploys together, one wins; a SIGKILLed deploy never breaks current and the next one cleans up", async () => {
  fx.writeConfig({ hooks: { build: ["sleep 0.3"] } }, [sshHost(rig, sshd, fx.deployPath, { name: "web1" })]);
  const [a, b] = await Promise.all([cutover(["deploy"], fx.app), cutover(["deploy"], fx.app)]);
  assert.deepEqual([a.code, b.code].sort(), [0, 3], a.stderr + b.stderr);
  assert.match((a.code === 3 ? a : b).stderr, /web1: .* is locked by /);

  // The killed run's scratch directories (engine/run-dirs.ts), made a day old: the next removes them.
  const processesNaming = (dir: string) =>
    readdirSync("/proc").filter((pid) => {
      try {
        return /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir);
      } catch {
        return false;
      }
    }).length;
  const runDirs = path.join(os.tmpdir(), `cutover-${process.getuid!()}`);
  const leftBy = (pid: number) =>
    readdirSync(runDirs)
      .filter((n) => new RegExp(`^(ssh|send|list)-${pid}-`).test(n))
      .map((n) => path.join(runDirs, n));
  let left = 0;
  for (const delay of [150, 300, 450, 600, 750, 900]) {
    fx.file("src/lib.php", `<?php function version() { return 'k${delay}'; }\n`);
    const child = spawn(process.execPath, [BIN, "deploy"], { cwd: fx.app, stdio: "ignore" });
    const timer = setTimeout(() => child.kill("SIGKILL"), delay);
    await new Promise((r) => child.on("close", r));
    clearTimeout(timer);
    await new Promise((r) => setTimeout(r, 100));
    assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
    assert.equal(
      readFileSync(path.join(fx.deployPath, "shared/storage/uploads/by-app.txt"), "utf8"),
      "keep me",
    );
    const dayOld = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
    for (const dir of leftBy(child.pid!)) {
      left += 1;
      // Its ssh outlives it a moment (its handshake, then its session, ends with the killed run's
      // pipe), making and removing its socket there: the directory would be new again.
      for (let i = 0; i < 50 && processesNaming(dir) > 0; i++) await new Promise((r) => setTimeout(r, 100));
      utimesSync(dir, dayOld, dayOld);
    }
    const next = await cutover(["deploy"], fx.app);
    assert.equal(next.code, 0, `after a kill at ${delay} ms:\n${next.stderr}`);
    assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
    assert.deepEqual(leftBy(child.pid!), [], `the scratch directories of the run killed at ${delay} ms`);
  }
  assert.ok(left > 0, "a killed run left its control directory");
});
