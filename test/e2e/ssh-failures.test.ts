import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { fakeBin } from "../helpers/bin.js";
import { BIN, cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { killEach } from "../helpers/interrupt.js";
import { freePort } from "../helpers/ports.js";
import { ensureTestUser, type Sshd, type SshRig, sshHost, sshRig } from "../helpers/sshd.js";
import { assertCurrentComplete, snapshot, trashEmptied } from "../helpers/tree.js";

interface Result {
  ok: boolean;
  release: string;
  hosts: { host: string; state: string; serving: string | null }[];
  error?: { message: string };
}

let rig: SshRig;
let good: Sshd[] = [];
const fx = fixture();
const paths = [1, 2, 3].map((i) => path.join(fx.dir, `host ${i}`));
const live = (p: string) =>
  existsSync(path.join(p, "current")) ? path.basename(realpathSync(path.join(p, "current"))) : null;
const noLocks = () => paths.every((p) => !existsSync(path.join(p, ".cutover/lock")));
const threeHosts = (third?: Record<string, unknown>) => [
  sshHost(rig, good[0]!, paths[0]!, { name: "web1" }),
  sshHost(rig, good[1]!, paths[1]!, { name: "web2" }),
  third ?? sshHost(rig, good[2]!, paths[2]!, { name: "web3" }),
];

/** Deploys with a broken third host: fails naming it, nothing changes on the good hosts. */
async function failsWithoutChange(
  third: Record<string, unknown>,
  message: RegExp,
  extra: Record<string, unknown> = {},
) {
  fx.writeConfig({ ssh: { connect_timeout: 2 }, ...extra }, threeHosts(third));
  const before = paths.slice(0, 2).map((p) => snapshot(p));
  const started = Date.now();
  const r = await cutover(["deploy"], fx.app);
  assert.notEqual(r.code, 0);
  const first = r.stderr.split("\n").find((l) => l.startsWith("error:") || l.startsWith("✗"))!;
  assert.match(first, /web3/, r.stderr);
  assert.match(r.stderr, message);
  assert.deepEqual(
    paths.slice(0, 2).map((p) => snapshot(p)),
    before,
    "the good hosts are untouched",
  );
  assert.ok(noLocks());
  return Date.now() - started;
}

before(async () => {
  rig = sshRig();
  good = [await rig.start(), await rig.start(), await rig.start()];
  fx.writeConfig({}, threeHosts());
  const r = await cutover(["deploy", "-q"], fx.app);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await rig.stopAll();
  fx.cleanup();
});

test("unreachable host (connection refused): named, with what to do; no host changes", async () => {
  const port = await freePort();
  await failsWithoutChange(
    { ...sshHost(rig, good[2]!, paths[2]!, { name: "web3" }), port },
    /web3: cannot connect to cutover-root@127\.0\.0\.1:\d+: connection refused/,
  );
});

test("blackholed port: fails after the connect timeout, not later", async () => {
  const silent = net.createServer(() => undefined); // accepts, never speaks: like a dropped SYN-ACK for ssh
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  const port = (silent.address() as net.AddressInfo).port;
  try {
    const ms = await failsWithoutChange(
      { ...sshHost(rig, good[2]!, paths[2]!, { name: "web3" }), port },
      /web3: cannot connect .*timed out/,
    );
    assert.ok(ms < 9000, `took ${ms} ms with a 2 s connect timeout`);
  } finally {
    silent.close();
  }
});

test("wrong key: named as a refused key", async () => {
  const other = path.join(rig.dir, "other key");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
  await failsWithoutChange(
    { ...sshHost(rig, good[2]!, paths[2]!, { name: "web3" }), identity_file: other },
    /web3: .* refused our key/,
  );
});

test("unknown host key: refused with the ssh-keyscan fix; never auto-accepted", async () => {
  const empty = path.join(rig.dir, "empty_known_hosts");
  writeFileSync(empty, "");
  await failsWithoutChange(
    { ...sshHost(rig, good[2]!, paths[2]!, { name: "web3" }), ssh_options: [`UserKnownHostsFile=${empty}`] },
    /web3: the host key of .* is not in known_hosts.*ssh-keyscan -p \d+ 127\.0\.0\.1/,
  );
  assert.equal(readFileSync(empty, "utf8"), "", "known_hosts was not written");
});

test("changed host key: refused as a possible attack", async () => {
  const wrong = path.join(rig.dir, "wrong_known_hosts");
  const key = path.join(rig.dir, "impostor");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  const pub = readFileSync(`${key}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  writeFileSync(wrong, `[127.0.0.1]:${good[2]!.port} ${pub}\n`);
  await failsWithoutChange(
    { ...sshHost(rig, good[2]!, paths[2]!, { name: "web3" }), ssh_options: [`UserKnownHostsFile=${wrong}`] },
    /web3: the host key of .* has CHANGED/,
  );
});

test("remote deploy path not writable by the SSH user", async () => {
  const locked = path.join(fx.dir, "root only");
  mkdirSync(locked, { mode: 0o755 });
  chmodSync(fx.dir, 0o755);
  await failsWithoutChange(
    sshHost(rig, good[2]!, locked, { name: "web3", user: ensureTestUser("cutovertest") }),
    /web3: cannot take the lock in .*root only.*Permission denied/,
  );
});

test("rsync missing on the remote host: refused before anything changes", async () => {
  const bin = fakeBin(path.join(rig.dir, "bin-without-rsync"), ["rsync"]);
  const norsync = await rig.start({ extraConfig: [`SetEnv PATH=${bin}`] });
  const before = live(paths[2]!);
  fx.writeConfig({}, threeHosts(sshHost(rig, norsync, paths[2]!, { name: "web3" })));
  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /web3: rsync is not installed on the host \(or not in the login's PATH\)/);
  assert.doesNotMatch(r.stderr, /create release directory/);
  assert.deepEqual(paths.map(live), [live(paths[0]!), live(paths[1]!), before]);
  assert.equal(live(paths[0]!), before, "no host switched");
  assert.ok(noLocks());
});

test("remote disk full: the deploy fails, current stays complete, the next deploy works", async () => {
  const small = path.join(fx.dir, "small disk");
  mkdirSync(small);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", small]);
  try {
    fx.writeConfig({}, threeHosts(sshHost(rig, good[2]!, small, { name: "web3" })));
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const before = [live(paths[0]!), live(paths[1]!), live(small)];
    fx.file("public/big.bin", "x".repeat(3 * 1024 * 1024));
    r = await cutover(["deploy"], fx.app);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /web3: upload files failed/);
    assert.match(r.stderr, /No space left on device/);
    assert.deepEqual([live(paths[0]!), live(paths[1]!), live(small)], before);
    assertCurrentComplete(small, ["bootstrap/cache"]);
    assert.ok(!existsSync(path.join(small, ".cutover/lock")));
    execFileSync("rm", ["-f", path.join(fx.app, "public/big.bin")]);
    await trashEmptied(small); // the failed release's space comes back after the run
    r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assertCurrentComplete(small, ["bootstrap/cache"]);
  } finally {
    execFileSync("umount", ["-l", small]);
  }
});

test("the SSH connection is killed during the upload: nothing switches, no lock is left", async () => {
  fx.writeConfig({}, threeHosts());
  const before = paths.map(live);
  for (let i = 0; i < 30; i++) fx.file(`public/blob${i}.bin`, randomBytes(2_000_000).toString("base64"));
  const child = spawn(process.execPath, [BIN, "-v", "deploy"], {
    cwd: fx.app,
    env: { ...process.env, NO_COLOR: "1" },
  });
  let stderr = "";
  let killed: number[] = [];
  let watching = false;
  const rsyncRunning = () =>
    good[2]!.descendants().some((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("rsync");
      } catch {
        return false;
      }
    });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
    if (watching || !/… web3 upload files/.test(stderr)) return;
    watching = true;
    // Kill every sshd process of web3 once its rsync server is really receiving.
    const poll = setInterval(() => {
      if (!rsyncRunning()) return;
      clearInterval(poll);
      killed = good[2]!.descendants();
      killEach(killed);
    }, 10);
    child.on("close", () => clearInterval(poll));
  });
  const code = await new Promise<number | null>((r) => child.on("close", r));
  assert.ok(killed.length > 0, "found the sshd process serving the connection");
  assert.equal(code, 1, stderr);
  // Which one rsync reports first depends on when the kill lands; both name the host and the step.
  assert.match(
    stderr,
    /web3: (upload files failed|the SSH connection to .* was lost \(during: upload files\))/,
  );
  assert.deepEqual(paths.map(live), before);
  for (const p of paths) assertCurrentComplete(p, ["bootstrap/cache"]);
  assert.ok(noLocks(), "locks released (over a new connection where the old one died)");
  for (let i = 0; i < 30; i++) execFileSync("rm", ["-f", path.join(fx.app, `public/blob${i}.bin`)]);
});

test("a command over its timeout is killed on the host, not left running", async () => {
  const marker = `${900 + Math.random()}`;
  fx.writeConfig({ command_timeout: 2, hooks: { build: [`sleep ${marker}`] } }, threeHosts());
  const before = paths.map(live);
  const started = Date.now();
  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  // The host's `timeout` ends it after 2 s (+5 s grace); cutover's own fallback limit is 2 + 15 s.
  assert.ok(Date.now() - started < 25_000);
  assert.match(r.stderr, /build hook "sleep [\d.]+" failed \(exit 124, timed out and killed\)/);
  assert.deepEqual(paths.map(live), before);
  await new Promise((res) => setTimeout(res, 500));
  const left = readdirSync("/proc").filter((pid) => {
    try {
      return /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
    } catch {
      return false;
    }
  });
  assert.deepEqual(left, [], "no sleep left running");
});

test("results name every host's state after a failure", async () => {
  fx.writeConfig({ hooks: { build: ['[ "$CUTOVER_HOST" != web2 ] || exit 5'] } }, threeHosts());
  const before = paths.map(live);
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 1);
  const result = json<Result>(r);
  assert.deepEqual(
    result.hosts.map((h) => [h.host, h.state, h.serving]),
    [
      ["web1", "unchanged", before[0]],
      ["web2", "unchanged", before[1]],
      ["web3", "unchanged", before[2]],
    ],
  );
  assert.match(r.stderr, /host +state +current/);
  fx.writeConfig({}, threeHosts());
});

test("ssh.accept_new_host_keys: true trusts an unknown key on first use, and only then", async () => {
  const fresh = path.join(rig.dir, "fresh_known_hosts");
  writeFileSync(fresh, "");
  fx.writeConfig(
    { ssh: { accept_new_host_keys: true } },
    threeHosts({
      ...sshHost(rig, good[2]!, paths[2]!, { name: "web3" }),
      ssh_options: [`UserKnownHostsFile=${fresh}`],
    }),
  );
  const r = await cutover(["deploy", "-q"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(fresh, "utf8").trim().split("\n").length, 1, "the key was recorded once");
  assert.match(readFileSync(fresh, "utf8"), / ssh-ed25519 /);
  const again = await cutover(["deploy", "-q"], fx.app);
  assert.equal(again.code, 0, again.stderr);
  fx.writeConfig({}, threeHosts());
});
