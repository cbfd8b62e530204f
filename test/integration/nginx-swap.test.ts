import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import type { NginxBalancer } from "../../src/config/resolve.js";
import { checkBalancer, readServers } from "../../src/engine/balancer.js";
import { nginxSwap } from "../../src/plan/balancer.js";
import { LocalExecutor } from "../../src/transport/local.js";

// The file's path reaches the swap program as an argument; the commands are shell text the test writes.
const dir = mkdtempSync(path.join(os.tmpdir(), "nginx swap ü "));
const executor = new LocalExecutor("local", 30);
after(async () => {
  await executor.close();
  rmSync(dir, { recursive: true, force: true });
});

function balancer(testCommand: string): NginxBalancer {
  return {
    type: "nginx",
    upstreamFile: path.join(dir, "app servers.conf"),
    testCommand,
    reloadCommand: `touch '${path.join(dir, "reloaded")}'`,
    servers: new Map([["web1", "10.0.0.1:80"]]),
    drainTimeoutSeconds: 1,
    maxUnavailable: 1,
    switchConfirm: 1,
  };
}

test("nginx upstream swap: a failing config test puts the old file back and reloads nothing", async () => {
  const b = balancer("false");
  writeFileSync(b.upstreamFile, "server 10.0.0.1:80;\n");
  const r = await executor.run([nginxSwap(b, "server 10.0.0.1:80 down;\n")]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /nginx config test failed: the upstream file was put back/);
  assert.equal(readFileSync(b.upstreamFile, "utf8"), "server 10.0.0.1:80;\n");
  assert.equal(existsSync(path.join(dir, "reloaded")), false, "no reload");
  assert.deepEqual(readdirSync(dir), ["app servers.conf"], "no temp or backup file left");
});

test("nginx upstream swap: a passing test leaves the new file and reloads once", async () => {
  const b = balancer(`grep -q down '${path.join(dir, "app servers.conf")}'`);
  writeFileSync(b.upstreamFile, "server 10.0.0.1:80;\n");
  const r = await executor.run([nginxSwap(b, "server 10.0.0.1:80 down;\n")]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    readFileSync(b.upstreamFile, "utf8"),
    "server 10.0.0.1:80 down;\n",
    "the test saw the new file",
  );
  assert.ok(existsSync(path.join(dir, "reloaded")));
  assert.deepEqual(readdirSync(dir).sort(), ["app servers.conf", "reloaded"]);
});

// Each case below in its own directory, so the listings above stay exact.
function fresh(label: string, testCommand = "true"): { d: string; b: NginxBalancer } {
  const d = mkdtempSync(path.join(dir, `${label} `));
  const b = { ...balancer(testCommand), upstreamFile: path.join(d, "up.conf") };
  return { d, b: { ...b, reloadCommand: `touch '${path.join(d, "reloaded")}'` } };
}

test("nginx upstream swap: a planted symlink at the old temp names is not written through", async () => {
  const { d, b } = fresh("planted");
  const victim = path.join(d, "victim");
  writeFileSync(victim, "precious\n");
  writeFileSync(b.upstreamFile, "server 10.0.0.1:80;\n", { mode: 0o640 });
  chmodSync(b.upstreamFile, 0o640);
  symlinkSync(victim, `${b.upstreamFile}.cutover-tmp`);
  symlinkSync(victim, `${b.upstreamFile}.cutover-old`);
  const r = await executor.run([nginxSwap(b, "server 10.0.0.1:80 down;\n")]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(victim, "utf8"), "precious\n", "the victim is untouched");
  assert.ok(lstatSync(b.upstreamFile).isFile(), "the upstream file is a regular file, not a link");
  assert.equal(readFileSync(b.upstreamFile, "utf8"), "server 10.0.0.1:80 down;\n");
  assert.equal(statSync(b.upstreamFile).mode & 0o777, 0o640, "the file keeps its mode");
  assert.ok(existsSync(path.join(d, "reloaded")));
});

test("nginx upstream swap: an upstream file that is a symlink is refused, its target untouched", async () => {
  const { d, b } = fresh("linked");
  const target = path.join(d, "target.conf");
  writeFileSync(target, "server 10.0.0.1:80;\n");
  symlinkSync(target, b.upstreamFile);
  const r = await executor.run([nginxSwap(b, "server 10.0.0.1:80 down;\n")]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /not a regular file/);
  assert.equal(readFileSync(target, "utf8"), "server 10.0.0.1:80;\n");
  assert.ok(lstatSync(b.upstreamFile).isSymbolicLink());
  assert.equal(existsSync(path.join(d, "reloaded")), false, "no reload");
});

test("nginx upstream swap: a missing upstream file is refused, nothing written, no reload", async () => {
  const { d, b } = fresh("missing", "false");
  const r = await executor.run([nginxSwap(b, "server 10.0.0.1:80 down;\n")]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /not a regular file/);
  assert.doesNotMatch(r.stderr, /put back/);
  assert.deepEqual(readdirSync(d), [], "nothing created");
});

// Root writes anywhere: an immutable directory (chattr +i) is what refuses it new names.
test("nginx upstream swap: a directory that takes no new file fails the step and reloads nothing", async () => {
  const { d, b } = fresh("immutable");
  const reloaded = path.join(dir, "immutable reloaded"); // outside: the reload itself could write it
  writeFileSync(b.upstreamFile, "server 10.0.0.1:80;\n");
  execFileSync("chattr", ["+i", d]);
  try {
    const r = await executor.run([
      nginxSwap({ ...b, reloadCommand: `touch '${reloaded}'` }, "server 10.0.0.1:80 down;\n"),
    ]);
    assert.notEqual(r.code, 0, "the batch is not reported out of service");
    assert.equal(readFileSync(b.upstreamFile, "utf8"), "server 10.0.0.1:80;\n");
  } finally {
    execFileSync("chattr", ["-i", d]);
  }
  assert.equal(existsSync(reloaded), false, "no reload");
});

test("nginx upstream swap: when the old file cannot be put back, the error says so", async () => {
  const { d, b } = fresh("stuck");
  const stuck = { ...b, testCommand: `chattr +i '${d}'; false` };
  writeFileSync(b.upstreamFile, "server 10.0.0.1:80;\n");
  try {
    const r = await executor.run([nginxSwap(stuck, "server 10.0.0.1:80 down;\n")]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /could NOT be put back/);
    assert.doesNotMatch(r.stderr, /was put back/);
  } finally {
    execFileSync("chattr", ["-i", d]);
  }
  assert.equal(existsSync(path.join(d, "reloaded")), false, "no reload");
});

// The read runs first, before anything changes (checkBalancer): what the swap would refuse is refused there.
for (const [what, make] of [
  ["a fifo (its read would wait for a writer)", (file: string) => execFileSync("mkfifo", [file])],
  ["a symlink (the swap would refuse it mid-run)", (file: string) => symlinkSync(`${file}.target`, file)],
] as const)
  test(`nginx upstream read: an upstream file that is ${what} is refused at once, naming it`, async () => {
    const { b } = fresh("read");
    writeFileSync(`${b.upstreamFile}.target`, "server 10.0.0.1:80;\n");
    make(b.upstreamFile);
    const link = { config: b, executor, finishesSwitch: false, close: async () => {} };
    const started = Date.now();
    await assert.rejects(
      readServers(link),
      /^CutoverError: balancer: cannot read nginx upstream file .*up\.conf.*: the upstream file .*up\.conf is not a regular file \(missing, or a symlink\)/,
    );
    assert.ok(Date.now() - started < 10_000, "not held until the command timeout");
  });

// cutover rewrites the whole file from balancer.servers: what it would drop is refused when read.
for (const [what, text, named] of [
  [
    "a server the stage does not map",
    "server 10.0.0.1:80;\nserver 10.0.0.9:80 backup;\n",
    /line 2: .*10\.0\.0\.9:80/,
  ],
  ["a server with parameters", "server 10.0.0.1:80 max_fails=0 weight=5;\n", /line 1: .*weight=5/],
  ["another directive", "# servers\nserver 10.0.0.1:80;\nkeepalive 16;\n", /line 3: .*keepalive 16/],
  ["a server listed twice", "server 10.0.0.1:80 down;\nserver 10.0.0.1:80;\n", /line 2: .*10\.0\.0\.1:80/],
] as const)
  test(`nginx upstream read: an upstream file with ${what} is refused, naming the line (a rewrite would lose it)`, async () => {
    const { b } = fresh("foreign");
    writeFileSync(b.upstreamFile, text);
    const link = { config: b, executor, finishesSwitch: false, close: async () => {} };
    const hosts = [{ name: "web1", path: "/", roles: [] }];
    await assert.rejects(checkBalancer(link, hosts, false), (e: Error) => {
      assert.match(e.message, /^balancer: nginx upstream file .*up\.conf/);
      assert.match(e.message, named);
      return true;
    });
    assert.equal(readFileSync(b.upstreamFile, "utf8"), text, "unchanged");
  });

test("the reload-pending mark removes only its own empty directory: a link or a directory of data at its name is never deleted through", async () => {
  const { d, b } = fresh("pending planted");
  const data = path.join(d, "data");
  mkdirSync(data);
  writeFileSync(path.join(data, "keep.txt"), "precious\n");
  writeFileSync(b.upstreamFile, "server 10.0.0.1:80;\n");
  const pending = `${b.upstreamFile}.cutover-reload-pending`;
  // A link at the mark's name: the swap cannot make its mark there, so it changes nothing.
  symlinkSync(data, pending);
  let r = await executor.run([nginxSwap(b, "server 10.0.0.1:80 down;\n")]);
  assert.notEqual(r.code, 0);
  assert.equal(readFileSync(b.upstreamFile, "utf8"), "server 10.0.0.1:80;\n", "not replaced");
  assert.equal(existsSync(path.join(d, "reloaded")), false, "no reload");
  assert.ok(lstatSync(pending).isSymbolicLink());
  assert.equal(readFileSync(path.join(data, "keep.txt"), "utf8"), "precious\n");
  // A real directory holding a file at the mark's name: read as a pending mark, finished, never emptied.
  rmSync(pending);
  mkdirSync(pending);
  writeFileSync(path.join(pending, "keep.txt"), "precious\n");
  const link = { config: b, executor, finishesSwitch: true, close: async () => undefined };
  await readServers(link).catch(() => undefined);
  r = await executor.run([nginxSwap(b, "server 10.0.0.1:80 down;\n")]);
  assert.equal(readFileSync(path.join(pending, "keep.txt"), "utf8"), "precious\n", "rmdir never empties it");
  assert.equal(readFileSync(path.join(data, "keep.txt"), "utf8"), "precious\n");
});

test("nginx upstream swap killed with its files left: the next run that changes the balancer removes only its own leftovers (exact name, regular file, older than a swap can run); a link or directory at such a name is never followed or emptied", async () => {
  const { d, b } = fresh("killed leftovers");
  writeFileSync(b.upstreamFile, "server 10.0.0.1:80;\n");
  // A real swap, killed in its reload: it leaves its backup file (and the pending mark).
  const swap = nginxSwap({ ...b, reloadCommand: "sleep 30" }, "server 10.0.0.1:80 down;\n");
  const child = spawn(swap.argv[0]!, swap.argv.slice(1), { detached: true, stdio: "ignore" });
  const left = () => readdirSync(d).filter((n) => /\.cutover-old\.[A-Za-z0-9]{6}$/.test(n));
  for (let i = 0; i < 200 && left().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  await new Promise((r) => setTimeout(r, 200));
  process.kill(-child.pid!, "SIGKILL");
  const [old] = left();
  assert.ok(old, `the killed swap left its backup: ${readdirSync(d).join(", ")}`);
  // And one killed before its rename (same names as mktemp makes them).
  const tmp = `${b.upstreamFile}.cutover-tmp.aB3xY9`;
  writeFileSync(tmp, "server 10.0.0.1:80 down;\n");
  // Hostile or foreign: a link to a victim, a directory of data, names that are not mktemp's.
  const victim = path.join(dir, "killed victim");
  writeFileSync(victim, "precious\n");
  const linkName = `${b.upstreamFile}.cutover-old.L1nk00`;
  symlinkSync(victim, linkName);
  const dirName = `${b.upstreamFile}.cutover-tmp.D1r000`;
  mkdirSync(dirName);
  writeFileSync(path.join(dirName, "keep"), "precious\n");
  const foreign = [`${b.upstreamFile}.cutover-tmp.short`, `${b.upstreamFile}.cutover-old.abcdefg`];
  for (const f of foreign) writeFileSync(f, "mine\n");
  // A young leftover may be a swap still running: kept.
  const young = `${b.upstreamFile}.cutover-old.Young1`;
  writeFileSync(young, "server 10.0.0.1:80;\n");
  const hourAgo = new Date(Date.now() - 2 * 3600_000);
  for (const f of [path.join(d, old!), tmp, dirName, ...foreign]) utimesSync(f, hourAgo, hourAgo);
  lutimesSync(linkName, hourAgo, hourAgo);

  const link = { config: b, executor, finishesSwitch: true, close: async () => undefined };
  await readServers(link);
  assert.equal(existsSync(path.join(d, old!)), false, "the killed swap's backup is gone");
  assert.equal(existsSync(tmp), false, "the killed swap's temp file is gone");
  assert.ok(lstatSync(linkName).isSymbolicLink(), "a link stays");
  assert.equal(readFileSync(victim, "utf8"), "precious\n", "its target untouched");
  assert.equal(readFileSync(path.join(dirName, "keep"), "utf8"), "precious\n", "a directory is left whole");
  for (const f of foreign) assert.equal(readFileSync(f, "utf8"), "mine\n", `${f} kept`);
  assert.ok(existsSync(young), "a young one kept");
  // A read-only run (doctor, --dry-run) removes nothing.
  const tmp2 = `${b.upstreamFile}.cutover-tmp.zzzzzz`;
  writeFileSync(tmp2, "x\n");
  utimesSync(tmp2, hourAgo, hourAgo);
  await readServers({ ...link, finishesSwitch: false });
  assert.ok(existsSync(tmp2), "read-only: kept");
});
