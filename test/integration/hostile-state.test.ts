import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { machineIdentity } from "../../src/engine/machine.js";
import { layout } from "../../src/plan/layout.js";
import { clearObservedLock, removeClockProbes } from "../../src/plan/records.js";
import { renderCmd } from "../../src/shell/cmd.js";
import { BIN, cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { assertCurrentComplete, snapshot } from "../helpers/tree.js";

/** Regression tests for host state cutover did not make: each once deleted or corrupted data. */
const fx = fixture();
after(() => fx.cleanup());
const meta = (...p: string[]) => path.join(fx.deployPath, ".cutover", ...p);
const releases = () => readdirSync(path.join(fx.deployPath, "releases")).sort();
const deployOk = async (...args: string[]) => {
  const r = await cutover(["deploy", "-q", ...args], fx.app);
  assert.equal(r.code, 0, r.stderr);
  return r;
};

test("setup: two good releases", async () => {
  await deployOk();
  await deployOk();
  assert.equal(releases().length, 2);
});

test("metadata with an empty id does not make a deploy prune releases/", async () => {
  writeFileSync(meta("releases", "x.json"), JSON.stringify({ id: "", state: "bad" }));
  const before = releases();
  const r = await deployOk();
  assert.match(r.stderr, /x\.json is not valid release metadata/);
  for (const id of before) assert.ok(releases().includes(id), `${id} survived`);
  assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
  assert.ok(existsSync(meta("releases", "x.json")), "the foreign file is left alone");
});

test("metadata naming ../shared as a failed release does not make cleanup delete shared/", async () => {
  writeFileSync(
    meta("releases", "20200101T000000Z.json"),
    JSON.stringify({ id: "../shared", state: "failed" }),
  );
  const shared = snapshot(path.join(fx.deployPath, "shared"));
  const r = await cutover(["cleanup"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(snapshot(path.join(fx.deployPath, "shared")), shared);
});

test("names with newlines in releases/ and .cutover/tmp/ cannot forge records: cleanup removes nothing of theirs", async () => {
  mkdirSync(path.join(fx.deployPath, "releases", "x\nrelease .."));
  mkdirSync(meta("tmp", "x\ntmp .."), { recursive: true });
  mkdirSync(path.join(fx.deployPath, "releases", "-rf"));
  const before = snapshot(fx.deployPath);
  const r = await cutover(["cleanup"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /note: .*not cutover releases/);
  const after_ = snapshot(fx.deployPath);
  for (const [p, v] of before) {
    if (!p.startsWith(".cutover/history")) assert.equal(after_.get(p), v, `${p} unchanged`);
  }
  assert.ok(existsSync(path.join(fx.deployPath, "releases", "x\nrelease ..")));
  assert.ok(existsSync(meta("tmp", "x\ntmp ..")));
});

test("a release directory without metadata (the migrated `current`) is never removed", async () => {
  const legacy = path.join(fx.dir, "legacy app");
  mkdirSync(path.join(legacy, "current/storage"), { recursive: true });
  writeFileSync(path.join(legacy, "current/index.php"), "legacy");
  writeFileSync(path.join(legacy, "current/storage/upload.jpg"), "a user's upload");
  // The migration cutover prints for a `current` that is a real directory:
  mkdirSync(path.join(legacy, "releases"));
  renameSync(path.join(legacy, "current"), path.join(legacy, "releases/00000000T000000Z"));
  symlinkSync("releases/00000000T000000Z", path.join(legacy, "current"));
  fx.writeConfig({}, [{ path: legacy }]);
  await deployOk();
  await deployOk();
  await deployOk();
  const c = await cutover(["cleanup"], fx.app);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(
    readFileSync(path.join(legacy, "releases/00000000T000000Z/storage/upload.jpg"), "utf8"),
    "a user's upload",
  );
  fx.writeConfig();
});

test("a deploy path behind a symlink with an absolute current: the live release is never planned for removal", async () => {
  const real = path.join(fx.dir, "real target");
  const link = path.join(fx.dir, "linked target");
  fx.writeConfig({}, [{ path: real }]);
  await deployOk();
  const live = path.basename(realpathSync(path.join(real, "current")));
  // Another tool made `current` absolute; the config names the path through a symlink.
  const tmp = path.join(real, "current.tmp");
  symlinkSync(path.join(real, "releases", live), tmp);
  renameSync(tmp, path.join(real, "current"));
  symlinkSync(real, link);
  fx.writeConfig({}, [{ path: link }]);
  const dry = await cutover(["--dry-run", "deploy"], fx.app);
  assert.equal(dry.code, 0, dry.stderr);
  assert.doesNotMatch(dry.stdout, new RegExp(`clean up[^\\n]*\\n[^#]*${live}`));
  await deployOk();
  const c = await cutover(["cleanup"], fx.app);
  assert.equal(c.code, 0, c.stderr);
  assert.ok(existsSync(path.join(real, "releases", live)), "the release that was live survived");
  fx.writeConfig();
});

test("a symlinked parent in the source never makes shared or writable steps write outside the release", async () => {
  const outside = path.join(fx.dir, "outside");
  mkdirSync(path.join(outside, "cache"), { recursive: true });
  writeFileSync(path.join(outside, "cache/keep.txt"), "not cutover's");
  const before = snapshot(outside);
  symlinkSync(outside, path.join(fx.app, "var"));
  try {
    for (const extra of [
      { shared_dirs: ["storage/uploads", "var/cache"] },
      { writable_dirs: ["var/cache"] },
    ]) {
      fx.writeConfig(extra);
      const r = await cutover(["deploy"], fx.app);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /var is a symlink .*refusing to write through it/);
      assert.deepEqual(snapshot(outside), before, "nothing outside changed");
      assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
    }
  } finally {
    fx.writeConfig();
    rmSync(path.join(fx.app, "var"));
  }
});

test('shared_dirs: ["./"] is a configuration error, not a release replaced by a link', async () => {
  fx.writeConfig({ shared_dirs: ["./"] });
  const before = snapshot(fx.deployPath);
  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr.split("\n")[0]!, /shared_dirs\[0\].*release itself/);
  assert.deepEqual(snapshot(fx.deployPath), before);
  fx.writeConfig();
});

test("system directories and the login's home are refused as deploy paths", async () => {
  for (const p of ["/", "/etc", "/usr", "/var/"]) {
    fx.writeConfig({}, [{ path: p }]);
    const r = await cutover(["deploy", "--dry-run"], fx.app);
    assert.equal(r.code, 2, `${p}: ${r.stderr}`);
    assert.match(r.stderr.split("\n")[0]!, /is a system directory, not a deploy path/);
  }
  const home = path.join(fx.dir, "home of the login");
  mkdirSync(home);
  fx.writeConfig({}, [{ path: home }]);
  // The check runs on the host, where $HOME is known.
  const h = spawnSync(process.execPath, [BIN, "deploy"], {
    cwd: fx.app,
    env: { ...process.env, HOME: home, NO_COLOR: "1" },
    encoding: "utf8",
  });
  assert.equal(h.status, 2, h.stderr);
  assert.match(h.stderr.split("\n")[0]!, /is the login's home directory/);
  assert.deepEqual(readdirSync(home), [], "nothing created in the home directory");
  fx.writeConfig();
});

test("a symlink whose target reads @@hashes cannot cut the manifest short: verify still sees tampering", async () => {
  symlinkSync("@@hashes", path.join(fx.app, "public/odd-link"));
  symlinkSync("@@previous", path.join(fx.app, "public/@@manifest"));
  try {
    await deployOk();
    const ok = await cutover(["verify"], fx.app);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const live = realpathSync(path.join(fx.deployPath, "current"));
    writeFileSync(path.join(live, "src/lib.php"), "<?php // tampered\n");
    const bad = await cutover(["verify"], fx.app);
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(bad.stdout + bad.stderr, /content differs from the recorded checksum/);
  } finally {
    rmSync(path.join(fx.app, "public/odd-link"));
    rmSync(path.join(fx.app, "public/@@manifest"));
    await deployOk();
  }
});

test("history: a cut-short last line does not swallow the next entry; broken lines and metadata never crash", async () => {
  appendFileSync(meta("history.jsonl"), '{"event":"deploy","outcome":"ok","stage');
  appendFileSync(meta("history.jsonl"), "");
  await deployOk();
  const h = await cutover(["--json", "history", "--limit", "3"], fx.app);
  assert.equal(h.code, 0, h.stderr);
  const entries = json<{ event: string; release: string }[]>(h);
  const live = path.basename(realpathSync(path.join(fx.deployPath, "current")));
  assert.equal(entries.at(-1)!.release, live, "the entry after the cut line is whole");
  assert.match(h.stderr, /skipped 1 line/);
  appendFileSync(
    meta("history.jsonl"),
    `${JSON.stringify({ event: "deploy", outcome: "ok" })}\n[1,2]\nnull\n`,
  );
  const id = "20300101T000000Z";
  mkdirSync(path.join(fx.deployPath, "releases", id));
  writeFileSync(meta("releases", `${id}.json`), JSON.stringify({ id, state: "superseded", revision: {} }));
  const again = await cutover(["history"], fx.app);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /\n\s+at /);
  const rel = await cutover(["releases"], fx.app);
  assert.equal(rel.code, 0, rel.stderr);
  assert.match(rel.stdout, new RegExp(id));
});

test("unlock clears only the lock it looked at", () => {
  const l = layout(fx.deployPath);
  // The probe's checksum of the owner text it saw.
  const sum = (seen: string) => execFileSync("cksum", { input: seen }).toString().trim();
  const clear = (seen: string) =>
    execFileSync("sh", ["-c", renderCmd(clearObservedLock(l, sum(seen)))], { stdio: "pipe" });
  mkdirSync(l.lock, { recursive: true });
  writeFileSync(l.lockOwner, '{"token":"newer","pid":1}\n');
  assert.throws(() => clear('{"token":"older","pid":1}'), /changed hands/);
  assert.ok(existsSync(l.lock), "a lock taken in between stays");
  clear('{"token":"newer","pid":1}');
  assert.ok(!existsSync(l.lock));
});

test("unlock --force clears a lock whose owner file is not UTF-8 (nothing else can)", async () => {
  // Before, the owner text came back through a UTF-8 decoding (a byte 0xE9 became U+FFFD), so the
  // host never found the lock "as it was read": "the lock changed hands", every time.
  const l = layout(fx.deployPath);
  mkdirSync(l.lock, { recursive: true });
  writeFileSync(l.lockOwner, Buffer.from('{"who":"caf\xe9","pid":1}\n', "latin1"));
  const r = await cutover(["unlock", "--force"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /cleared the lock/);
  assert.ok(!existsSync(l.lock), "the lock is gone");
  const again = await deployOk();
  assert.doesNotMatch(again.stderr, /locked/);
});

test("a .cutover/lock that is no directory: deploy and unlock both name it and say to move it away; nothing removes it", async () => {
  // Before, deploy said "locked by an unknown holder ... run `cutover unlock`", and unlock said
  // "not locked" (exit 0): neither led anywhere.
  const l = layout(fx.deployPath);
  writeFileSync(l.lock, "not a lock\n");
  try {
    for (const args of [["deploy"], ["unlock", "--force"]]) {
      const r = await cutover(args, fx.app);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr.split("\n")[0]!, /\.cutover\/lock is a file, not a directory/);
      assert.match(r.stderr, /fix: move .*\.cutover\/lock away/);
      assert.equal(readFileSync(l.lock, "utf8"), "not a lock\n");
    }
  } finally {
    rmSync(l.lock);
  }
});

test("a .cutover/lock that is a symlink to a directory is no lock either: named, and unlock --force leaves it", async () => {
  // Before, it was "locked by an unknown holder", and unlock --force removed a link cutover never made.
  const l = layout(fx.deployPath);
  const elsewhere = path.join(fx.dir, "someone's directory");
  mkdirSync(elsewhere, { recursive: true });
  symlinkSync(elsewhere, l.lock);
  try {
    for (const args of [["deploy"], ["unlock", "--force"]]) {
      const r = await cutover(args, fx.app);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr.split("\n")[0]!, /\.cutover\/lock is a link, not a directory/);
      assert.equal(readlinkSync(l.lock), elsewhere);
    }
  } finally {
    rmSync(l.lock);
  }
});

test("a lock whose holder is a zombie (killed, never reaped) is stale; one from a clone with the same host name is not", async () => {
  // `sh` forks a short sleep and execs into a long one, which never reaps it: a zombie for 5 s.
  const parent = spawn("sh", ["-c", "sleep 0.05 & echo $!; exec sleep 5"]);
  const zombie = await new Promise<number>((resolve) =>
    parent.stdout.once("data", (c: Buffer) => resolve(Number(c.toString().trim()))),
  );
  await new Promise((r) => setTimeout(r, 300));
  assert.match(readFileSync(`/proc/${zombie}/stat`, "utf8"), /\) Z /, "the holder is a zombie");
  const l = layout(fx.deployPath);
  const owner = (machineId: string) =>
    JSON.stringify({
      token: "z",
      who: "gone@here",
      machine: os.hostname(),
      machine_id: machineId,
      pid: zombie,
      since: "s",
      command: "cutover deploy",
    });
  try {
    mkdirSync(l.lock);
    writeFileSync(l.lockOwner, owner("a-clone-with-another-machine-id"));
    const clone = await cutover(["deploy"], fx.app);
    assert.equal(clone.code, 3, "same host name and pid on another machine proves nothing");
    writeFileSync(l.lockOwner, owner(machineIdentity()));
    const r = await cutover(["deploy"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /cleared a stale lock: its holder gone@here/);
  } finally {
    parent.kill("SIGKILL");
    rmSync(l.lock, { recursive: true, force: true });
  }
});

test("a manifest line the host changed into bad JSON: diff and the next deploy go on (the file is hashed again)", async () => {
  const live = path.basename(realpathSync(path.join(fx.deployPath, "current")));
  appendFileSync(meta("releases", `${live}.manifest`), `"\\q" f 644 ${"0".repeat(64)}\n`);
  const d = await cutover(["diff", "test", live, live], fx.app);
  assert.equal(d.code, 0, d.stderr);
  await deployOk();
  assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
});

test("a symlinked .cutover is refused by every command that takes the lock, and nothing is written through it", async () => {
  const other = path.join(fx.dir, "other state");
  const root = path.join(fx.dir, "linked state");
  mkdirSync(other);
  mkdirSync(root);
  symlinkSync(other, path.join(root, ".cutover"));
  fx.writeConfig({}, [{ path: root }]);
  try {
    for (const args of [["deploy"], ["cleanup"], ["rollback"], ["adopt"], ["snapshot", "create"]]) {
      const r = await cutover(args, fx.app);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr.split("\n")[0]!, /\.cutover is a link, not a directory/);
      assert.deepEqual(readdirSync(other), [], `${args.join(" ")} wrote through the link`);
    }
  } finally {
    fx.writeConfig();
  }
});

test("unlock through a symlinked .cutover is refused too: the lock and history it leads to are left alone", async () => {
  // Before, unlock (which takes no lock) removed the lock it found through the link and appended
  // its history line there: another deploy path's state.
  const other = path.join(fx.dir, "other state 2");
  const root = path.join(fx.dir, "linked state 2");
  mkdirSync(path.join(other, "lock"), { recursive: true });
  writeFileSync(path.join(other, "lock", "owner.json"), '{"token":"theirs","pid":1}\n');
  mkdirSync(root);
  symlinkSync(other, path.join(root, ".cutover"));
  fx.writeConfig({}, [{ path: root }]);
  try {
    const r = await cutover(["unlock", "--force"], fx.app);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr.split("\n")[0]!, /\.cutover is a link, not a directory/);
    assert.deepEqual(readdirSync(other), ["lock"], "nothing removed or written through the link");
    assert.ok(existsSync(path.join(other, "lock", "owner.json")));
  } finally {
    fx.writeConfig();
  }
});

test("a clock probe a killed run left in releases/ is removed by the next deploy; a link, directory, fifo or other name so shaped stays", async () => {
  const rel = (name: string) => path.join(fx.deployPath, "releases", name);
  const victim = path.join(fx.dir, "probe victim");
  writeFileSync(victim, "keep");
  writeFileSync(rel(".cutover-clock-probe.AbCd1234"), "");
  symlinkSync(victim, rel(".cutover-clock-probe.Link1234"));
  mkdirSync(rel(".cutover-clock-probe.Dir01234"));
  writeFileSync(rel(".cutover-clock-probe.Dir01234/inside"), "keep");
  execFileSync("mkfifo", [rel(".cutover-clock-probe.Fifo1234")]);
  writeFileSync(rel(".cutover-clock-probe.Longer12345"), "keep");
  const stays = [
    ".cutover-clock-probe.Dir01234",
    ".cutover-clock-probe.Fifo1234",
    ".cutover-clock-probe.Link1234",
    ".cutover-clock-probe.Longer12345",
  ];
  try {
    const r = await deployOk();
    assert.match(
      r.stderr,
      /an earlier run was interrupted: removing its clock probe releases\/\.cutover-clock-probe\.AbCd1234/,
    );
    assert.ok(!existsSync(rel(".cutover-clock-probe.AbCd1234")), "the probe is removed");
    for (const name of stays) assert.ok(releases().includes(name), `${name} stays`);
    const warning = r.stderr.split("\n").find((l) => l.includes("not cutover releases")) ?? "";
    for (const name of stays) assert.ok(warning.includes(name), `${name} is reported`);
    assert.ok(!warning.includes("AbCd1234"));
    assert.equal(readFileSync(victim, "utf8"), "keep");
    assert.equal(readFileSync(rel(".cutover-clock-probe.Dir01234/inside"), "utf8"), "keep");
    assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
  } finally {
    for (const name of stays) rmSync(rel(name), { recursive: true, force: true });
  }
});

test("the clock probes' removal: a name swapped for a link or a directory after it was read stays, and no other name is removed", () => {
  const l = layout(fx.deployPath);
  const victim = path.join(fx.dir, "swap victim");
  writeFileSync(victim, "keep");
  const link = ".cutover-clock-probe.Swap1234";
  const dir = ".cutover-clock-probe.SwapDir1";
  symlinkSync(victim, path.join(l.releases, link));
  mkdirSync(path.join(l.releases, dir));
  writeFileSync(path.join(l.releases, dir, "inside"), "keep");
  try {
    execFileSync("sh", ["-c", renderCmd(removeClockProbes(l, [link, dir]))], { stdio: "pipe" });
    assert.ok(releases().includes(link), "the link stays");
    assert.equal(readFileSync(victim, "utf8"), "keep");
    assert.equal(readFileSync(path.join(l.releases, dir, "inside"), "utf8"), "keep");
    const refused = spawnSync("sh", ["-c", renderCmd(removeClockProbes(l, ["../current"]))], {
      encoding: "utf8",
    });
    assert.equal(refused.status, 3);
    assert.match(refused.stderr, /refusing to remove "\.\.\/current"/);
    assert.ok(existsSync(path.join(fx.deployPath, "current")));
  } finally {
    rmSync(path.join(l.releases, link), { force: true });
    rmSync(path.join(l.releases, dir), { recursive: true, force: true });
  }
});

test("a history.jsonl that is a fifo is neither read nor written: rollback and history do not wait on it", async () => {
  // Before, the record's append (and `history`'s tail) waited for the fifo's other end until
  // command_timeout (an hour by default), the lock held all that time.
  fx.writeConfig({ command_timeout: 30 });
  const history = meta("history.jsonl");
  const kept = readFileSync(history);
  rmSync(history);
  execFileSync("mkfifo", [history]);
  try {
    const live = readlinkSync(path.join(fx.deployPath, "current"));
    let started = Date.now();
    const r = await cutover(["rollback"], fx.app);
    assert.ok(Date.now() - started < 20_000, `rollback took ${Date.now() - started} ms`);
    assert.notEqual(readlinkSync(path.join(fx.deployPath, "current")), live, "rolled back");
    assert.match(r.stderr, /history\.jsonl is not a regular file/);
    assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
    started = Date.now();
    const h = await cutover(["history"], fx.app);
    assert.ok(Date.now() - started < 20_000, `history took ${Date.now() - started} ms`);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stderr, /history\.jsonl is not a regular file/);
    const log = await cutover(["log"], fx.app);
    assert.equal(log.code, 0, log.stderr);
    assert.ok(!existsSync(meta("lock")), "the lock is given back");
    // unlock clears the lock though its history line is refused: done, with a warning (exit 4).
    mkdirSync(meta("lock"));
    writeFileSync(meta("lock/owner.json"), '{"token":"t","who":"someone","pid":1,"machine":"elsewhere"}\n');
    const u = await cutover(["unlock", "--force"], fx.app);
    assert.equal(u.code, 4, u.stderr);
    assert.match(u.stdout, /cleared the lock of someone/);
    assert.match(u.stderr, /^warning: .*history\.jsonl is not a regular file/m);
    assert.ok(!existsSync(meta("lock")), "the lock is cleared");
  } finally {
    rmSync(history);
    writeFileSync(history, kept);
    fx.writeConfig();
  }
});

test("a history.jsonl whose last line is huge (600 MiB, no newline): history and log read a bounded tail, and say the line is no entry", async () => {
  const history = meta("history.jsonl");
  const kept = readFileSync(history);
  appendFileSync(history, '{"event":"deploy"');
  truncateSync(history, 600 * 1024 * 1024);
  try {
    for (const command of ["history", "log"]) {
      const r = await cutover([command], fx.app);
      assert.equal(r.code, 0, `${command}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /internal error|^\s+at /m, command);
      assert.match(r.stderr, /skipped 1 line/, command);
    }
  } finally {
    rmSync(history);
    writeFileSync(history, kept);
  }
});

test("diff reads no manifest that is a fifo or a link to an endless device: it says so at once", async () => {
  // Before, `cat` waited on the fifo until command_timeout, and streamed /dev/zero into this
  // machine's memory until that limit or the heap gave out.
  fx.writeConfig({ command_timeout: 30 });
  const live = path.basename(realpathSync(path.join(fx.deployPath, "current")));
  const manifest = meta("releases", `${live}.manifest`);
  const kept = readFileSync(manifest);
  try {
    for (const make of [() => execFileSync("mkfifo", [manifest]), () => symlinkSync("/dev/zero", manifest)]) {
      rmSync(manifest);
      make();
      const started = Date.now();
      const d = await cutover(["diff", "test", live, live], fx.app);
      assert.ok(Date.now() - started < 15_000, `diff took ${Date.now() - started} ms`);
      assert.equal(d.code, 1, d.stderr);
      assert.match(d.stderr, new RegExp(`release ${live} has no manifest`));
    }
  } finally {
    rmSync(manifest, { force: true });
    writeFileSync(manifest, kept);
    fx.writeConfig();
  }
});
