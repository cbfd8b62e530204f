import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { BIN, cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { killEach } from "../helpers/interrupt.js";
import { type Sshd, type SshRig, sshHost, sshRig } from "../helpers/sshd.js";
import { assertCurrentComplete } from "../helpers/tree.js";

/**
 * ssh.persist: a host's connection outlives the run, and the next run reuses it without a new SSH
 * handshake. Counted in the real sshd's log; the persisted master is stopped by its PID.
 */
let rig: SshRig;
let sshd: Sshd;
const fx = fixture();
// Short: a control socket's path is limited to ~100 bytes.
const cache = mkdtempSync("/tmp/cx-");
const runtime = mkdtempSync("/tmp/rx-");
const env = { XDG_CACHE_HOME: cache, XDG_RUNTIME_DIR: runtime };
const socketDir = path.join(runtime, "cutover-ssh");
const connections = () => (sshd.log().match(/Accepted publickey/g) ?? []).length;
const live = () => path.basename(realpathSync(path.join(fx.deployPath, "current")));

/** The PID of the master behind each socket that has a live one. */
function masters(dir = socketDir): number[] {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const r = spawnSync("ssh", ["-o", `ControlPath=${path.join(dir, name)}`, "-O", "check", "host"], {
      encoding: "utf8",
    });
    const pid = /pid=(\d+)/.exec(r.stderr)?.[1];
    return r.status === 0 && pid ? [Number(pid)] : [];
  });
}

function stopMasters(): void {
  for (const dir of [socketDir, path.join(cache, "cutover", "ssh")]) killEach(masters(dir));
}

async function deploy(version: string, environment: Record<string, string> = env): Promise<string> {
  fx.file("src/lib.php", `<?php function version() { return '${version}'; }\n`);
  const r = await cutover(["--json", "deploy"], fx.app, environment);
  assert.equal(r.code, 0, r.stderr);
  const release = json<{ release: string }>(r).release;
  assert.equal(live(), release);
  assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
  return release;
}

before(async () => {
  rig = sshRig();
  sshd = await rig.start();
});
after(async () => {
  stopMasters();
  await rig.stopAll();
  fx.cleanup();
  rmSync(cache, { recursive: true, force: true });
  rmSync(runtime, { recursive: true, force: true });
});

test("with ssh.persist the next run reuses the connection; negative control: without it, each run connects", async () => {
  fx.writeConfig({ ssh: { persist: 60 } }, [sshHost(rig, sshd, fx.deployPath, { name: "web1" })]);
  const before = connections();
  await deploy("p1");
  assert.equal(connections() - before, 1, "the first run connects");
  assert.equal(masters().length, 1, "its connection is still open after the run");
  assert.equal(statSync(socketDir).mode & 0o777, 0o700, "the socket's directory is this user's only");
  await deploy("p2");
  await deploy("p3");
  assert.equal(connections() - before, 1, "later runs made no new SSH connection");

  stopMasters();
  fx.writeConfig({}, [sshHost(rig, sshd, fx.deployPath, { name: "web1" })]);
  const plain = connections();
  await deploy("n1");
  await deploy("n2");
  assert.equal(connections() - plain, 2, "without persist every run connects");
  assert.equal(masters().length, 0, "and leaves no connection open");
});

test("a kept connection that died is replaced: the next run connects again and goes through", async () => {
  fx.writeConfig({ ssh: { persist: 60 } }, [sshHost(rig, sshd, fx.deployPath, { name: "web1" })]);
  await deploy("d1");
  const [pid] = masters();
  assert.ok(pid, "a master is kept");
  process.kill(pid, "SIGKILL");
  assert.equal(masters().length, 0, "its socket is left behind, with nothing listening");
  const before = connections();
  await deploy("d2");
  assert.equal(connections() - before, 1);
  assert.equal(masters().length, 1);
});

test("the kept connection dropped in mid-run: nothing switches, a new connection records it, the next run goes through", async () => {
  fx.writeConfig({ ssh: { persist: 60 }, hooks: { build: ["sleep 4"] } }, [
    sshHost(rig, sshd, fx.deployPath, { name: "web1" }),
  ]);
  const was = await deploy("c1");
  fx.file("src/lib.php", "<?php function version() { return 'c2'; }\n");
  const mid = connections();
  const child = spawn(process.execPath, [BIN, "-v", "deploy"], {
    cwd: fx.app,
    env: { ...process.env, ...env },
  });
  let stderr = "";
  let killed = 0;
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
    if (killed > 0 || !/build/.test(stderr)) return;
    // Every sshd process serving the kept connection: the master's connection is gone.
    killed += killEach(sshd.descendants());
  });
  const code = await new Promise<number | null>((r) => child.on("close", r));
  assert.ok(killed > 0, "killed the connection's sshd processes");
  assert.equal(code, 1, stderr);
  assert.equal(live(), was, "nothing switched");
  assert.ok(connections() > mid, "the run connected afresh to record the failure and unlock");
  await deploy("c3");
});

test("without $XDG_RUNTIME_DIR the socket is in the cache directory; with an open directory above it, no connection is kept", async () => {
  fx.writeConfig({ ssh: { persist: 60 } }, [sshHost(rig, sshd, fx.deployPath, { name: "web1" })]);
  const inCache = { XDG_CACHE_HOME: cache, XDG_RUNTIME_DIR: "" };
  let before = connections();
  await deploy("x1", inCache);
  await deploy("x2", inCache);
  assert.equal(connections() - before, 1);
  assert.equal(masters(path.join(cache, "cutover", "ssh")).length, 1);
  stopMasters();

  // Another user could rename a directory in one that anyone may write to (not sticky): no socket there.
  const open = mkdtempSync("/tmp/ox-");
  try {
    chmodSync(open, 0o777);
    before = connections();
    await deploy("x3", { XDG_CACHE_HOME: open, XDG_RUNTIME_DIR: "" });
    await deploy("x4", { XDG_CACHE_HOME: open, XDG_RUNTIME_DIR: "" });
    assert.equal(connections() - before, 2, "each run connects: nothing is kept");
    assert.equal(masters(path.join(open, "cutover", "ssh")).length, 0);
  } finally {
    rmSync(open, { recursive: true, force: true });
  }
});
