/**
 * cutover's host programs (removing releases and snapshots, restoring one, adopt's look), each run by
 * a real sh on a deploy path in a state the run's checks at the lock no longer vouch for by the time
 * it runs, or that no one but another process made: a fifo where a file is read never holds a run.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { newOwner } from "../../src/engine/lock.js";
import { adoptProbe } from "../../src/plan/adopt.js";
import { layout } from "../../src/plan/layout.js";
import { planCleanup } from "../../src/plan/reconcile.js";
import { releaseLock, removeReleases } from "../../src/plan/records.js";
import { linkInRelease } from "../../src/plan/release-paths.js";
import { removeSnapshots } from "../../src/plan/snapshot-cmds.js";
import { restoreSnapshot } from "../../src/plan/snapshot-restore.js";
import { switchTo } from "../../src/plan/switch.js";
import { renderScript } from "../../src/shell/cmd.js";
import { wrapCommand } from "../helpers/bin.js";
import { hostFacts } from "../helpers/facts.js";
import { scratchDir } from "../helpers/scratch.js";

const id = "20200101T000000Z";

/** A deploy path with `id`'s metadata and an empty trash; releases/ is made by the test. */
function deployPath(): string {
  const root = scratchDir("cutover-remove-");
  mkdirSync(path.join(root, ".cutover/releases"), { recursive: true });
  mkdirSync(path.join(root, ".cutover/trash"), { mode: 0o700 });
  writeFileSync(
    path.join(root, ".cutover/releases", `${id}.json`),
    `${JSON.stringify({ id, state: "failed" })}\n`,
  );
  return root;
}

test("releases/ that has become a fifo: the removal does not wait on it", () => {
  const root = deployPath();
  execFileSync("mkfifo", [path.join(root, "releases")]);
  const r = spawnSync("sh", ["-c", renderScript([removeReleases(layout(root), [id])])], {
    encoding: "utf8",
    timeout: 10_000,
  });
  assert.equal(r.signal, null, "still blocked after 10 s (opening the fifo waits for a writer)");
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!existsSync(path.join(root, ".cutover/releases", `${id}.json`)), "its metadata removed");
  assert.deepEqual(readdirSync(path.join(root, ".cutover/trash")), []);
});

test("a release's metadata that has become a fifo: the removal refuses it without waiting on it", () => {
  const root = deployPath();
  mkdirSync(path.join(root, "releases", id), { recursive: true });
  const meta = path.join(root, ".cutover/releases", `${id}.json`);
  execFileSync("rm", [meta]);
  execFileSync("mkfifo", [meta]);
  const r = spawnSync("sh", ["-c", renderScript([removeReleases(layout(root), [id])])], {
    encoding: "utf8",
    timeout: 10_000,
  });
  assert.equal(r.signal, null, "still blocked after 10 s (reading the fifo waits for a writer)");
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stderr, /refusing to remove .*: no metadata of cutover's names it/);
  assert.ok(existsSync(path.join(root, "releases", id)), "kept");
});

test("an earlier removal's error in the trash: reported while what it left is there, dropped once it is gone", () => {
  const root = deployPath();
  mkdirSync(path.join(root, "releases"));
  const trash = path.join(root, ".cutover/trash");
  const run = () =>
    spawnSync("sh", ["-c", renderScript([removeReleases(layout(root), [id])])], {
      encoding: "utf8",
      timeout: 10_000,
    });
  writeFileSync(path.join(trash, ".failed"), "rm: cannot remove './20190101T000000Z/x': Permission denied\n");
  mkdirSync(path.join(trash, "20190101T000000Z"));
  const reported = run();
  assert.equal(reported.status, 3, reported.stderr);
  assert.match(
    reported.stderr,
    /releases pruned earlier are left in .*trash \(remove them there by hand\): rm: cannot remove/,
  );
  // Removed by hand (or by the removal that run started): the note goes, and nothing is reported.
  for (let i = 0; i < 100 && readdirSync(trash).includes("20190101T000000Z"); i++)
    spawnSync("sleep", ["0.05"]);
  execFileSync("rm", ["-rf", path.join(trash, "20190101T000000Z")]);
  writeFileSync(path.join(trash, ".failed"), "rm: cannot remove './20190101T000000Z/x': Permission denied\n");
  const quiet = run();
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.deepEqual(readdirSync(trash), []);
});

/** Runs a command's script with a real sh, giving up after 10 s (a read of a fifo waits for a writer). */
function runBounded(c: Parameters<typeof renderScript>[0][number]) {
  return spawnSync("sh", ["-c", renderScript([c])], { encoding: "utf8", timeout: 10_000 });
}

test("a snapshot whose metadata is a fifo: neither removed nor restored, and nothing waits on it", () => {
  const root = deployPath();
  mkdirSync(path.join(root, "shared"));
  const snap = "20200101T000000Z";
  const dir = path.join(root, ".cutover/snapshots", snap);
  mkdirSync(path.join(dir, "shared"), { recursive: true });
  execFileSync("mkfifo", [path.join(dir, "snapshot.json")]);
  const removal = runBounded(removeSnapshots(layout(root), [snap]));
  assert.equal(removal.signal, null, "the removal waited on the fifo");
  assert.equal(removal.status, 3, removal.stderr);
  const restore = runBounded(restoreSnapshot(layout(root), snap, "20200101T000001Z"));
  assert.equal(restore.signal, null, "the restore waited on the fifo");
  assert.equal(restore.status, 3, restore.stderr);
  assert.ok(existsSync(path.join(dir, "shared")), "kept");
});

test("adopt's look at releases: a REVISION that is a fifo is not read", () => {
  const root = deployPath();
  mkdirSync(path.join(root, "releases/20200101120000"), { recursive: true });
  execFileSync("mkfifo", [path.join(root, "releases/20200101120000/REVISION")]);
  const r = runBounded(adoptProbe(root, []));
  assert.equal(r.signal, null, "waited on the fifo");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /20200101120000/);
});

/** A PATH whose grep takes only POSIX options (busybox's, say: no -D), the rest as usual. */
function posixGrepPath(): string {
  const dir = wrapCommand(
    scratchDir("cutover-posix-grep-"),
    "grep",
    `for a; do case $a in -D*) echo "grep: invalid option -- 'D'" >&2; exit 2 ;; esac; done`,
  );
  return `${dir}:${process.env.PATH}`;
}

test("a host whose grep has only POSIX options: a release with its metadata is removed", () => {
  const root = deployPath();
  mkdirSync(path.join(root, "releases", id), { recursive: true });
  const r = spawnSync("sh", ["-c", renderScript([removeReleases(layout(root), [id])])], {
    encoding: "utf8",
    env: { ...process.env, PATH: posixGrepPath() },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!existsSync(path.join(root, "releases", id)), "removed");
});

test("a host whose grep has only POSIX options: our lock is given back", () => {
  const root = deployPath();
  const owner = newOwner("me", "cutover deploy", new Date());
  mkdirSync(path.join(root, ".cutover/lock"));
  writeFileSync(path.join(root, ".cutover/lock/owner.json"), `${JSON.stringify(owner)}\n`);
  const r = spawnSync("sh", ["-c", renderScript([releaseLock(layout(root), owner)])], {
    encoding: "utf8",
    env: { ...process.env, PATH: posixGrepPath() },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!existsSync(path.join(root, ".cutover/lock")), "the lock is gone");
});

test("a host whose grep has only POSIX options: a complete snapshot is removed", () => {
  const root = deployPath();
  const snap = "20200101T000000Z";
  const dir = path.join(root, ".cutover/snapshots", snap);
  mkdirSync(path.join(dir, "shared"), { recursive: true });
  writeFileSync(path.join(dir, "snapshot.json"), `${JSON.stringify({ id: snap, state: "complete" })}\n`);
  const r = spawnSync("sh", ["-c", renderScript([removeSnapshots(layout(root), [snap])])], {
    encoding: "utf8",
    env: { ...process.env, PATH: posixGrepPath() },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!existsSync(dir), "removed");
});

test("a deploy path with backslashes: the removal's refusal names it as it is", () => {
  const root = path.join(scratchDir("cutover-remove-"), "back\\cslash\\134");
  mkdirSync(path.join(root, "releases", id), { recursive: true });
  mkdirSync(path.join(root, ".cutover/trash"), { recursive: true, mode: 0o700 });
  const r = spawnSync("sh", ["-c", renderScript([removeReleases(layout(root), [id])])], { encoding: "utf8" });
  assert.equal(r.status, 3, r.stderr);
  assert.ok(
    r.stderr.includes(`refusing to remove ${root}/releases/${id}: no metadata of cutover's names it`),
    r.stderr,
  );
});

test("a shared link into a release: its parents made where missing, whatever is at its name replaced, a symlinked parent refused", () => {
  const rel = scratchDir("cutover-link-");
  const link = (p: string) =>
    spawnSync("sh", ["-c", renderScript([linkInRelease(rel, p, "../shared/x")])], { encoding: "utf8" });
  assert.equal(link("a b/c/.env").status, 0);
  assert.equal(readlinkSync(path.join(rel, "a b/c/.env")), "../shared/x");
  mkdirSync(path.join(rel, "storage/app"), { recursive: true });
  writeFileSync(path.join(rel, "storage/app/f"), "from the source");
  assert.equal(link("storage").status, 0);
  assert.equal(readlinkSync(path.join(rel, "storage")), "../shared/x");
  symlinkSync("nowhere", path.join(rel, "dangling"));
  assert.equal(link("dangling").status, 0);
  assert.equal(readlinkSync(path.join(rel, "dangling")), "../shared/x");
  const outside = scratchDir("cutover-link-outside-");
  writeFileSync(path.join(outside, "keep"), "keep");
  symlinkSync(outside, path.join(rel, "var"));
  const refused = link("var/keep");
  assert.equal(refused.status, 3);
  assert.match(refused.stderr, /var is a symlink .* refusing to write through it/);
  assert.equal(readFileSync(path.join(outside, "keep"), "utf8"), "keep");
  // The removal at the link's own name: a link there to a directory of data goes as a link.
  symlinkSync(outside, path.join(rel, "uploads"));
  assert.equal(link("uploads").status, 0);
  assert.equal(readlinkSync(path.join(rel, "uploads")), "../shared/x");
  assert.equal(readFileSync(path.join(outside, "keep"), "utf8"), "keep", "nothing removed through the link");
});

test("the switch: .cutover/tmp made where missing, a link left at its temporary name by a killed run replaced", () => {
  const root = scratchDir("cutover-switch-");
  const l = layout(root);
  mkdirSync(l.release(id), { recursive: true });
  const run = () => spawnSync("sh", ["-c", renderScript([switchTo(l, id)])], { encoding: "utf8" });
  const first = run();
  assert.equal(first.status, 0, first.stderr);
  assert.equal(readlinkSync(path.join(root, "current")), `releases/${id}`);
  symlinkSync("releases/elsewhere", path.join(l.tmp, "current"));
  const second = run();
  assert.equal(second.status, 0, second.stderr);
  assert.equal(readlinkSync(path.join(root, "current")), `releases/${id}`);
  assert.deepEqual(readdirSync(l.tmp), []);
});

test("metadata whose release the listing did not see: cleanup removes that metadata only, never a directory there by now", () => {
  // Before, the orphan's metadata went by the release removal, which removes a directory it finds
  // at that name: a release a listing missed (an unreadable releases/, one made meanwhile) went
  // with it, the rollback target too.
  const root = scratchDir("cutover-orphan-");
  const [older, live] = ["20200101T000000Z", "20200102T000000Z"];
  const metaOf = (rid: string, state: string) =>
    JSON.stringify({ id: rid, state, stage: "s", who: "w", revision: null, started_at: "t" });
  for (const [rid, state] of [
    [older, "superseded"],
    [live, "live"],
  ] as const) {
    mkdirSync(path.join(root, "releases", rid, "public"), { recursive: true });
    writeFileSync(path.join(root, "releases", rid, "public/index.php"), rid);
    mkdirSync(path.join(root, ".cutover/releases"), { recursive: true });
    writeFileSync(path.join(root, ".cutover/releases", `${rid}.json`), `${metaOf(rid, state)}\n`);
  }
  symlinkSync(`releases/${live}`, path.join(root, "current"));
  // As read when `older` was not in the listing.
  const facts = hostFacts(root, [
    "root ok",
    `current link releases/${live}`,
    `release ${live}`,
    `meta ${metaOf(older, "superseded")}`,
    `meta ${metaOf(live, "live")}`,
  ]);
  const plan = planCleanup(layout(root), facts, 5, "now");
  const r = spawnSync("sh", ["-c", renderScript(plan.cmds)], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(path.join(root, "releases", older, "public/index.php"), "utf8"), older);
  assert.ok(existsSync(path.join(root, ".cutover/releases", `${older}.json`)), "its metadata stays with it");
  // Gone for real: only the metadata goes.
  execFileSync("rm", ["-rf", path.join(root, "releases", older)]);
  const again = spawnSync("sh", ["-c", renderScript(plan.cmds)], { encoding: "utf8" });
  assert.equal(again.status, 0, again.stderr);
  assert.ok(!existsSync(path.join(root, ".cutover/releases", `${older}.json`)));
  assert.ok(existsSync(path.join(root, "releases", live, "public/index.php")));
});
