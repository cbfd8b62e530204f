import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { wrapCommand } from "../helpers/bin.js";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { sshHost, sshRig } from "../helpers/sshd.js";

/**
 * A release pruned after a deploy leaves releases/ at once (renamed into .cutover/trash) and is
 * removed there by a process of its own: the deploy does not wait for its thousands of unlinks.
 */
const fx = fixture();
after(() => fx.cleanup());
fx.writeConfig({ keep_releases: 1 });
const trash = path.join(fx.deployPath, ".cutover/trash");
const releases = () => readdirSync(path.join(fx.deployPath, "releases")).sort();
let version = 0;

async function deploy(env: Record<string, string> = {}, app = fx.app): Promise<string> {
  version += 1;
  writeFileSync(path.join(app, "src/lib.php"), `<?php function version() { return 'v${version}'; }\n`);
  const r = await cutover(["--json", "deploy", "-q"], app, env);
  assert.equal(r.code, 0, r.stderr);
  return json<{ release: string }>(r).release;
}

async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(done(), what);
}

test("the pruned release leaves releases/ before the deploy returns and is removed after it", async () => {
  // Anything removed in the trash waits 2 s first: a deploy that waited for it could not see it there.
  const slow = wrapCommand(
    path.join(fx.dir, "bin-slow-rm"),
    "rm",
    `case "$(pwd -P)" in */.cutover/trash) sleep 2 ;; esac`,
  );
  const first = await deploy();
  const second = await deploy();
  const third = await deploy({ PATH: `${slow}:${process.env.PATH}` });
  // keep_releases 1 keeps the live release and the rollback target.
  assert.deepEqual(releases(), [second, third].sort());
  assert.deepEqual(readdirSync(trash), [first], "still being removed when the deploy returned");
  await until(() => readdirSync(trash).length === 0, "the trash is emptied");
});

test("over SSH: the session ends and the removal goes on without it", async () => {
  const over = fixture();
  const rig = sshRig();
  const binDir = mkdtempSync(path.join(os.tmpdir(), "cutover-slow-rm-"));
  try {
    // A path without spaces: sshd_config takes it as one word.
    const slow = wrapCommand(
      path.join(binDir, "bin"),
      "rm",
      `case "$(pwd -P)" in */.cutover/trash) sleep 2 ;; esac`,
    );
    // The host's commands find the slow rm first.
    const sshd = await rig.start({ extraConfig: [`SetEnv PATH=${slow}:/usr/local/bin:/usr/bin:/bin`] });
    over.writeConfig({ keep_releases: 1 }, [sshHost(rig, sshd, over.deployPath, { name: "web1" })]);
    const first = await deploy({}, over.app);
    await deploy({}, over.app);
    await deploy({}, over.app);
    const remote = path.join(over.deployPath, ".cutover/trash");
    assert.deepEqual(readdirSync(remote), [first], "still being removed when the deploy returned");
    await until(() => readdirSync(remote).length === 0, "the trash is emptied after the session ended");
  } finally {
    await rig.stopAll();
    over.cleanup();
    rmSync(binDir, { recursive: true, force: true });
  }
});

test("what a removal killed before its end left in the trash goes with the next one", async () => {
  const left = path.join(trash, "20200101T000000Z");
  mkdirSync(path.join(left, "src"), { recursive: true });
  writeFileSync(path.join(left, "src/left.php"), "<?php\n");
  const before = releases();
  await deploy();
  assert.equal(releases().length, 2);
  assert.ok(!releases().includes(before[0]!), "the oldest release pruned");
  await until(() => readdirSync(trash).length === 0, "the leftover and the pruned release removed");
});

test("a trash that is a symlink: the release is removed in place, nothing moved or removed through the link", async () => {
  const elsewhere = path.join(fx.dir, "elsewhere");
  mkdirSync(elsewhere);
  writeFileSync(path.join(elsewhere, "keep.txt"), "not cutover's\n");
  rmdirSync(trash);
  symlinkSync(elsewhere, trash);
  const before = releases();
  await deploy();
  assert.ok(!releases().includes(before[0]!), "the oldest release pruned");
  assert.deepEqual(readdirSync(elsewhere), ["keep.txt"]);
  assert.equal(readFileSync(path.join(elsewhere, "keep.txt"), "utf8"), "not cutover's\n");
});

/** A fresh, empty trash (a test before may have left a symlink there). */
function freshTrash(): void {
  rmSync(trash, { recursive: true, force: true });
  // As cutover makes it: a trash others may write to is not used (whatever the umask).
  mkdirSync(trash, { mode: 0o700 });
}

test("a trash that is a bind mount on the same file system: what is mounted there stays, nothing is copied into it", async () => {
  // Same st_dev, another mount: rename fails with EXDEV there and mv copies instead.
  const mounted = path.join(fx.dir, "mounted");
  mkdirSync(mounted);
  writeFileSync(path.join(mounted, "keep.txt"), "not cutover's\n");
  freshTrash();
  execFileSync("mount", ["--bind", mounted, trash]);
  try {
    const before = releases();
    await deploy();
    assert.ok(!releases().includes(before[0]!), "the oldest release pruned");
    await new Promise((r) => setTimeout(r, 500)); // time for a removal started in the background
    assert.deepEqual(readdirSync(mounted), ["keep.txt"]);
  } finally {
    execFileSync("umount", [trash]);
  }
});

test("a trash others may write to: what another user put there stays, the release is removed in place", async () => {
  freshTrash();
  chmodSync(trash, 0o1777);
  const theirs = path.join(trash, "theirs");
  mkdirSync(theirs);
  writeFileSync(path.join(theirs, "notes.txt"), "nobody's\n");
  chownSync(path.join(theirs, "notes.txt"), 65534, 65534);
  chownSync(theirs, 65534, 65534);
  const before = releases();
  await deploy();
  assert.ok(!releases().includes(before[0]!), "the oldest release pruned");
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(readdirSync(trash), ["theirs"]);
  assert.deepEqual(readdirSync(theirs), ["notes.txt"]);
});

test("a trash swapped for a symlink while the removal runs: it removes only in the trash it checked", async () => {
  freshTrash();
  const victim = path.join(fx.dir, "victim");
  const pruned = releases()[0]!; // the oldest: the next deploy prunes it
  mkdirSync(path.join(victim, pruned), { recursive: true });
  writeFileSync(path.join(victim, pruned, "keep.txt"), "not cutover's\n");
  // The removal's rm first swaps the trash for a link to victim/, as a process that may write .cutover could.
  // Once: a later rm of the removal's (its .failed) would swap the next test's trash.
  const swapped = path.join(fx.dir, "swapped");
  const swapping = wrapCommand(
    path.join(fx.dir, "bin-swap"),
    "rm",
    `case "$(pwd -P) $*" in *.cutover/trash*) [ -e '${swapped}' ] || [ -L '${trash}' ] || { : > '${swapped}'; mv '${trash}' '${trash}.old'; ln -s '${victim}' '${trash}'; } ;; esac`,
  );
  await deploy({ PATH: `${swapping}:${process.env.PATH}` });
  const checked = `${trash}.old`;
  await until(
    () =>
      !existsSync(path.join(victim, pruned)) || (existsSync(checked) && readdirSync(checked).length === 0),
    "the removal ran",
  );
  assert.deepEqual(readdirSync(path.join(victim, pruned)), ["keep.txt"]);
  rmSync(trash);
  renameSync(checked, trash);
});

test("a release an interrupted removal left in the trash goes with the next run's cleanup of its metadata", async () => {
  // Interrupted between the rename and the start of the removal: the release is in the trash, its
  // metadata still in .cutover/releases; the next run removes that metadata, nothing is pruned.
  freshTrash();
  const id = "20200102T000000Z";
  mkdirSync(path.join(trash, id, "src"), { recursive: true });
  const metaDir = path.join(fx.deployPath, ".cutover/releases");
  const some = readdirSync(metaDir).find((n) => n.endsWith(".json"))!;
  const meta = JSON.parse(readFileSync(path.join(metaDir, some), "utf8")) as Record<string, unknown>;
  writeFileSync(
    path.join(metaDir, `${id}.json`),
    `${JSON.stringify({ ...meta, id, state: "superseded" })}\n`,
  );
  const r = await cutover(["cleanup"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!existsSync(path.join(metaDir, `${id}.json`)), "the metadata removed");
  await until(() => readdirSync(trash).length === 0, "the release left in the trash removed");
});

test("the removal in the trash takes only names a release can have: anything else put there stays", async () => {
  freshTrash();
  const others = ["my notes", ".keep", "-x", "ü"];
  for (const name of others) writeFileSync(path.join(trash, name), "not cutover's\n");
  const before = releases();
  await deploy();
  assert.ok(!releases().includes(before[0]!), "the oldest release pruned");
  await until(() => readdirSync(trash).every((n) => others.includes(n)), "the pruned release removed");
  await new Promise((r) => setTimeout(r, 300)); // a removal still under way would take the rest now
  assert.deepEqual(readdirSync(trash).sort(), [...others].sort());
  for (const name of others) rmSync(path.join(trash, name));
});
