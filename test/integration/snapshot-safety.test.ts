import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { quote } from "../../src/shell/quote.js";
import { fakeBin } from "../helpers/bin.js";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { interruptWhen, settled } from "../helpers/interrupt.js";
import { snapshot as tree } from "../helpers/tree.js";

const live = (deployPath: string) => path.basename(realpathSync(path.join(deployPath, "current")));

test("a disk that fills during a snapshot leaves shared/ untouched, and no snapshot behind", async () => {
  const fx = fixture();
  const mount = mkdtempSync(path.join(os.tmpdir(), "cutover-tmpfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mount]);
  try {
    const deployPath = path.join(mount, "app 'x'");
    fx.writeConfig({ snapshots: { before_deploy: true, keep: 2 } }, [{ path: deployPath }]);
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const release = live(deployPath);
    r = await cutover(["--json", "snapshot", "create"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const small = json<{ id: string }[]>(r)[0]!.id;
    // Incompressible data: more than half of the 2 MiB, so a second copy cannot fit.
    writeFileSync(path.join(deployPath, "shared/storage/uploads/big.bin"), randomBytes(1200 * 1024));
    const before = tree(path.join(deployPath, "shared"));

    r = await cutover(["snapshot", "create"], fx.app);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /snapshot .* failed and was removed \(rsync exit \d+\); shared\/ was not changed/);
    assert.deepEqual(tree(path.join(deployPath, "shared")), before);
    assert.deepEqual(
      readdirSync(path.join(deployPath, ".cutover/snapshots")),
      [small],
      "the partial snapshot is gone",
    );
    r = await cutover(["snapshot", "restore", small], fx.app);
    assert.equal(r.code, 1, "a restore that cannot first save the live shared/ changes nothing");
    assert.deepEqual(tree(path.join(deployPath, "shared")), before);

    fx.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
    r = await cutover(["deploy"], fx.app);
    assert.equal(r.code, 1, "a deploy whose snapshot fails stops before anything is uploaded");
    assert.match(r.stderr, /snapshot shared\/ failed/);
    assert.equal(live(deployPath), release);
    assert.deepEqual(tree(path.join(deployPath, "shared")), before);
    assert.deepEqual(readdirSync(path.join(deployPath, ".cutover/snapshots")), [small]);
    r = await cutover(["--json", "snapshot", "list"], fx.app);
    assert.deepEqual(
      json<{ id: string }[]>(r).map((s) => s.id),
      [small],
    );
  } finally {
    execFileSync("umount", [mount]);
    rmSync(mount, { recursive: true, force: true });
    fx.cleanup();
  }
});

test("hostile state in .cutover/snapshots: odd names and bad metadata are listed as notes, never removed or restored", async () => {
  const fx = fixture();
  try {
    fx.writeConfig({ snapshots: { keep: 1 } });
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const snaps = path.join(fx.deployPath, ".cutover/snapshots");
    const outside = path.join(fx.dir, "outside");
    mkdirSync(path.join(outside, "shared"), { recursive: true });
    writeFileSync(path.join(outside, "shared/keep.txt"), "not cutover's\n");
    writeFileSync(
      path.join(outside, "snapshot.json"),
      JSON.stringify({ id: "20200101T000001Z", state: "complete" }),
    );
    mkdirSync(snaps, { recursive: true });
    const plant = (name: string, meta?: string) => {
      mkdirSync(path.join(snaps, name, "shared"), { recursive: true });
      writeFileSync(path.join(snaps, name, "shared/data"), name);
      if (meta !== undefined) writeFileSync(path.join(snaps, name, "snapshot.json"), meta);
    };
    plant("evil\nname");
    plant("-rf");
    plant("20200101T000000Z"); // id-shaped, no metadata
    plant("20200101T000002Z", JSON.stringify({ id: "20200101T000003Z", state: "complete" })); // names another id
    plant("20200101T000004Z", '{"id": "20200101T000004Z", "state": "compl'); // truncated
    plant("20200101T000005Z", JSON.stringify({ id: "../../shared", state: "partial" }));
    symlinkSync(outside, path.join(snaps, "20200101T000001Z")); // metadata inside names it: still a link
    symlinkSync(outside, path.join(snaps, "restore-20200101T000001Z"));
    writeFileSync(path.join(snaps, "20200101T000006Z"), "a file");
    const hostile = tree(snaps);
    const outsideTree = tree(outside);

    r = await cutover(["snapshot", "list"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "no snapshots");
    assert.match(r.stderr, /evil\\nname.* left alone/);
    const mine = json<{ id: string }[]>(await cutover(["--json", "snapshot", "create"], fx.app))[0]!.id;
    const second = json<{ id: string }[]>(await cutover(["--json", "snapshot", "create"], fx.app))[0]!.id;
    assert.ok(mine > "20200101T000006Z" && second > mine);
    // A partial snapshot of ours (as a kill mid-copy leaves it): prune removes it, and the older complete one.
    mkdirSync(path.join(snaps, "20300101T000000Z"));
    writeFileSync(
      path.join(snaps, "20300101T000000Z/snapshot.json"),
      JSON.stringify({ id: "20300101T000000Z", state: "partial", reason: "manual" }),
    );
    r = await cutover(["snapshot", "restore", "20300101T000000Z"], fx.app);
    assert.equal(r.code, 1, "a partial snapshot is never restored");
    for (const id of ["20200101T000000Z", "20200101T000001Z", "20200101T000004Z"]) {
      r = await cutover(["snapshot", "restore", id], fx.app);
      assert.equal(r.code, 1, `${id}: ${r.stderr}`);
      assert.match(r.stderr, /no complete snapshot/);
    }
    r = await cutover(["snapshot", "restore", "../shared"], fx.app);
    assert.equal(r.code, 2);

    r = await cutover(["--dry-run", "--json", "snapshot", "prune"], fx.app);
    assert.deepEqual(json<{ removed: string[] }[]>(r)[0]!.removed, ["20300101T000000Z", mine]);
    r = await cutover(["--json", "snapshot", "prune"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(path.join(snaps, mine)) && !existsSync(path.join(snaps, "20300101T000000Z")));
    assert.ok(existsSync(path.join(snaps, second)));
    rmSync(path.join(snaps, second), { recursive: true });
    assert.deepEqual(tree(snaps), hostile, "everything that is not provably cutover's is byte-identical");
    assert.deepEqual(tree(outside), outsideTree);

    // .cutover/snapshots itself a symlink: nothing is written or removed through it.
    rmSync(snaps, { recursive: true });
    symlinkSync(outside, snaps);
    r = await cutover(["snapshot", "create"], fx.app);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not a directory cutover made; refusing to write there/);
    r = await cutover(["snapshot", "prune"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\.cutover\/snapshots is a link, not a directory; left alone/);
    assert.deepEqual(tree(outside), outsideTree);
  } finally {
    fx.cleanup();
  }
});

test("SIGTERM during a snapshot: its copy is stopped on the host, it stays partial (never restored), prune removes it", async () => {
  const fx = fixture();
  try {
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const bin = path.join(fx.dir, "slow-bin");
    mkdirSync(bin);
    writeFileSync(path.join(bin, "rsync"), "#!/bin/sh\nexec sleep 47.25\n", { mode: 0o755 });
    const before = tree(path.join(fx.deployPath, "shared"));
    const run = await interruptWhen(["snapshot", "create"], fx.app, "sleep 47.25", "SIGTERM", {
      PATH: `${bin}:${process.env.PATH}`,
    });
    assert.ok(run.sent);
    assert.equal(run.code, 130, run.stderr);
    assert.deepEqual(await settled("sleep 47.25"), [], "nothing of the snapshot runs on the host");
    assert.ok(!existsSync(path.join(fx.deployPath, ".cutover/lock")), "the lock is given back");
    assert.deepEqual(tree(path.join(fx.deployPath, "shared")), before);
    const list = json<{ id: string; hosts: Record<string, string> }[]>(
      await cutover(["--json", "snapshot", "list"], fx.app),
    );
    assert.deepEqual(Object.values(list[0]!.hosts), ["partial"]);
    r = await cutover(["snapshot", "restore", list[0]!.id], fx.app);
    assert.equal(r.code, 1);
    r = await cutover(["snapshot", "prune"], fx.app);
    assert.match(r.stdout, new RegExp(`removed ${list[0]!.id}`));
    assert.deepEqual(readdirSync(path.join(fx.deployPath, ".cutover/snapshots")), []);
  } finally {
    fx.cleanup();
  }
});

test("a shared directory swapped for a link to outside during a snapshot: nothing outside is removed or written", async () => {
  const fx = fixture();
  const victim = path.join(fx.dir, "victim");
  mkdirSync(victim);
  writeFileSync(path.join(victim, "passwd"), "root:x:0:0\n");
  try {
    assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
    // A link the app made inside a shared directory (the configured path itself being a link is refused).
    const shared = path.join(fx.deployPath, "shared/storage/uploads");
    symlinkSync(victim, path.join(shared, "a"));
    const evil = path.join(fx.dir, "evil.db");
    execFileSync("sqlite3", [evil, "CREATE TABLE t(x); INSERT INTO t VALUES ('app data');"]);
    // The app's move, made exactly between the copy and the SQLite pass: the copy holds the link
    // a -> victim, shared/a becomes a real directory with a database named like the victim's file.
    const bin = fakeBin(path.join(fx.dir, "racing-bin"), ["rsync"], {
      rsync: `/usr/bin/rsync "$@"; rc=$?
case "$*" in *"/.cutover/snapshots/"*) rm -f ${quote(`${shared}/a`)}; mkdir ${quote(`${shared}/a`)}; cp ${quote(evil)} ${quote(`${shared}/a/passwd`)} ;; esac
exit $rc`,
    });
    const before = tree(victim);
    const r = await cutover(["snapshot", "create"], fx.app, { PATH: bin });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(tree(victim), before, "the file outside is neither removed nor replaced");
    assert.ok(statSync(path.join(shared, "a/passwd")).isFile(), "the app's move happened");
  } finally {
    fx.cleanup();
  }
});

test("a configured shared path that is a link (an adopted Envoyer layout) is refused: a snapshot would hold the link, not the data", async () => {
  const fx = fixture();
  try {
    fx.writeConfig({ shared_dirs: ["storage"], shared_files: [] });
    mkdirSync(path.join(fx.deployPath, "storage/uploads"), { recursive: true });
    writeFileSync(path.join(fx.deployPath, "storage/uploads/photo.jpg"), "data");
    mkdirSync(path.join(fx.deployPath, "shared"), { recursive: true });
    symlinkSync("../storage", path.join(fx.deployPath, "shared/storage"));
    assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
    const r = await cutover(["snapshot", "create"], fx.app);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /shared\/storage is a link \(to \.\.\/storage\): a snapshot would hold the link, not the data/,
    );
    assert.ok(
      !existsSync(path.join(fx.deployPath, ".cutover/snapshots")) ||
        readdirSync(path.join(fx.deployPath, ".cutover/snapshots")).length === 0,
    );
  } finally {
    fx.cleanup();
  }
});

test("a file the app rewrites while the snapshot reads it (rsync exit 23): another pass, then the snapshot is complete; three such passes fail it", async () => {
  const fx = fixture();
  try {
    assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
    const uploads = path.join(fx.deployPath, "shared/storage/uploads");
    writeFileSync(path.join(uploads, "worker.txt"), "rewritten by the app\n");
    // rsync as it ends when a file shrinks under it ("read errors mapping ...: No data available"):
    // exit 23, here on the first copy into the snapshots only.
    const flaky = (times: number) =>
      fakeBin(path.join(fx.dir, `flaky-rsync-${times}`), ["rsync"], {
        rsync: `/usr/bin/rsync "$@"; rc=$?
case "$*" in *"/.cutover/snapshots/"*)
  n=$(cat ${quote(path.join(fx.dir, `rsync-calls-${times}`))} 2>/dev/null || echo 0); n=$((n + 1)); echo $n > ${quote(path.join(fx.dir, `rsync-calls-${times}`))}
  [ $n -le ${times} ] && { echo "rsync: read errors mapping \\"worker.txt\\": No data available (61)" >&2; exit 23; } ;;
esac
exit $rc`,
      });
    const once = await cutover(["--json", "snapshot", "create"], fx.app, { PATH: flaky(1) });
    assert.equal(once.code, 0, once.stderr);
    const id = json<{ id: string }[]>(once)[0]!.id;
    const snapDir = path.join(fx.deployPath, ".cutover/snapshots", id);
    assert.match(readFileSync(path.join(snapDir, "snapshot.json"), "utf8"), /"state":"complete"/);
    assert.equal(
      readFileSync(path.join(snapDir, "shared/storage/uploads/worker.txt"), "utf8"),
      "rewritten by the app\n",
    );

    const always = await cutover(["snapshot", "create"], fx.app, { PATH: flaky(3) });
    assert.equal(always.code, 1, always.stderr);
    assert.match(always.stderr, /failed and was removed \(rsync exit 23\); shared\/ was not changed/);
    assert.deepEqual(
      readdirSync(path.join(fx.deployPath, ".cutover/snapshots")),
      [id],
      "no partial snapshot left",
    );
  } finally {
    fx.cleanup();
  }
});
