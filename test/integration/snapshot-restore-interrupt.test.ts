import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { wrapCommand } from "../helpers/bin.js";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { interruptWhen, settled } from "../helpers/interrupt.js";
import { createSnapshotIn } from "../helpers/snapshots.js";
import { sql } from "../helpers/sqlite.js";

test("SIGTERM while a restore puts SQLite databases back in place: later runs say shared/ is partly restored (prune keeps the record), and restoring again finishes it", async () => {
  const fx = fixture();
  try {
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const shared = (...p: string[]) => path.join(fx.deployPath, "shared", ...p);
    const dbs = ["a.db", "b.db"].map((n) => shared("storage/uploads", n));
    for (const db of dbs) sql(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    const snap = await createSnapshotIn(fx.app);
    for (const db of dbs) sql(db, "INSERT INTO t VALUES (2);");
    writeFileSync(shared(".env"), "APP_KEY=after the snapshot\n");
    // The second database's restore in place hangs: the first one already holds the snapshot's rows.
    const bin = wrapCommand(
      path.join(fx.dir, "slow-sqlite3"),
      "sqlite3",
      `case "$*" in *"readfile('2.path')"*".restore"*) sleep 47.75 ;; esac`,
    );
    const run = await interruptWhen(["snapshot", "restore", snap], fx.app, "sleep 47.75", "SIGTERM", {
      PATH: `${bin}:${process.env.PATH}`,
    });
    assert.ok(run.sent);
    assert.equal(run.code, 130, run.stderr);
    assert.deepEqual(await settled("sleep 47.75"), [], "nothing of the restore runs on the host");
    assert.doesNotMatch(run.stderr, /never restored/, "the run does not say nothing was restored");
    assert.match(run.stderr, /snapshot list/, "it says where to look");
    const counts = () => dbs.map((db) => sql(db, "SELECT count(*) FROM t"));
    assert.equal(readFileSync(shared(".env"), "utf8"), "APP_KEY=after the snapshot\n", "not swapped");
    assert.deepEqual(counts().sort(), ["1", "2"], "cut short between the two databases");
    const first = path.basename(dbs[counts().indexOf("1")]!);
    // Every later look says so, naming the database and how to finish; prune keeps the record.
    const said = new RegExp(
      `restore of snapshot ${snap} was interrupted.*"storage/uploads/${first.replace(".", "\\.")}".*cutover snapshot restore ${snap}`,
    );
    r = await cutover(["snapshot", "list"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, said);
    r = await cutover(["snapshot", "prune"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, said);
    assert.ok(readdirSync(path.join(fx.deployPath, ".cutover/snapshots")).includes(`restore-${snap}`));
    // Restoring again finishes it, and the warning goes.
    r = await cutover(["snapshot", "restore", snap], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(counts(), ["1", "1"]);
    assert.equal(readFileSync(shared(".env"), "utf8"), "APP_KEY=secret\n");
    r = await cutover(["snapshot", "list"], fx.app);
    assert.doesNotMatch(r.stderr, /interrupted/);
  } finally {
    fx.cleanup();
  }
});

test("SIGTERM while prune removes a snapshot: what is left of it is never taken for a complete snapshot (never restored), and prune again removes it", async () => {
  const fx = fixture();
  try {
    fx.writeConfig({ snapshots: { keep: 1 } });
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const old = await createSnapshotIn(fx.app);
    await createSnapshotIn(fx.app);
    // rm has removed part of the old snapshot's tree when the signal comes.
    const bin = wrapCommand(
      path.join(fx.dir, "slow-rm"),
      "rm",
      `for a; do case $a in */.cutover/snapshots/${old}|*/.cutover/snapshots/${old}/shared)
        ${execFileSync("sh", ["-c", "command -v rm"], { encoding: "utf8" }).trim()} -rf -- "\${a%/shared}/shared/storage"; sleep 47.5 ;;
      esac; done`,
    );
    const run = await interruptWhen(["snapshot", "prune"], fx.app, "sleep 47.5", "SIGTERM", {
      PATH: `${bin}:${process.env.PATH}`,
    });
    assert.ok(run.sent);
    assert.equal(run.code, 130, run.stderr);
    assert.deepEqual(await settled("sleep 47.5"), [], "nothing of the prune runs on the host");
    const upload = path.join(fx.deployPath, "shared/storage/uploads/first.txt");
    r = await cutover(["--json", "snapshot", "list"], fx.app);
    const states = JSON.parse(r.stdout) as { id: string; hosts: Record<string, string> }[];
    assert.notEqual(Object.values(states.find((s) => s.id === old)?.hosts ?? {})[0], "complete");
    r = await cutover(["snapshot", "restore", old], fx.app);
    assert.equal(r.code, 1, "a half-removed snapshot is not restored");
    assert.equal(
      readFileSync(upload, "utf8"),
      "uploaded before the first deploy\n",
      "shared/ keeps its uploads",
    );
    r = await cutover(["snapshot", "prune"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      !readdirSync(path.join(fx.deployPath, ".cutover/snapshots")).includes(old),
      "prune again removes it",
    );
  } finally {
    fx.cleanup();
  }
});

test("prune marking a snapshot partial never writes through a link planted at its temporary metadata name", async () => {
  const fx = fixture();
  try {
    fx.writeConfig({ snapshots: { keep: 1 } });
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const old = await createSnapshotIn(fx.app);
    await createSnapshotIn(fx.app);
    const victim = path.join(fx.dir, "victim.txt");
    writeFileSync(victim, "not cutover's\n");
    symlinkSync(victim, path.join(fx.deployPath, ".cutover/snapshots", old, "snapshot.json.tmp"));
    r = await cutover(["snapshot", "prune"], fx.app);
    assert.equal(readFileSync(victim, "utf8"), "not cutover's\n", "the file behind the link is untouched");
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!readdirSync(path.join(fx.deployPath, ".cutover/snapshots")).includes(old));
  } finally {
    fx.cleanup();
  }
});

test("a snapshot whose metadata was rewritten (pretty-printed JSON): the host's proof fails, so it is a note, not a snapshot that stops every deploy's prune", async () => {
  const fx = fixture();
  try {
    fx.writeConfig({ snapshots: { before_deploy: true, keep: 1 } });
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const id = "20200101T000000Z";
    const dir = path.join(fx.deployPath, ".cutover/snapshots", id);
    mkdirSync(path.join(dir, "shared"), { recursive: true });
    const meta = {
      id,
      state: "complete",
      reason: "manual",
      stage: "test",
      who: "x",
      created_at: "",
      live: null,
    };
    writeFileSync(
      path.join(dir, "snapshot.json"),
      `${JSON.stringify({ ...meta, release: null }, null, 2)}\n`,
    );
    r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`snapshots/${id} is not a snapshot cutover made; left alone`));
    assert.ok(readdirSync(path.join(fx.deployPath, ".cutover/snapshots")).includes(id), "left alone");
  } finally {
    fx.cleanup();
  }
});

test("a completed restore removes older restore-<id> work directories only: a link at such a name, one holding a tree.old, and other names stay", async () => {
  const fx = fixture();
  try {
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const snap = await createSnapshotIn(fx.app);
    const snaps = path.join(fx.deployPath, ".cutover/snapshots");
    const data = path.join(fx.dir, "data");
    mkdirSync(data);
    writeFileSync(path.join(data, "keep.txt"), "precious\n");
    symlinkSync(data, path.join(snaps, "restore-20200101T000000Z"));
    mkdirSync(path.join(snaps, "restore-20200101T000001Z/tree.old"), { recursive: true });
    writeFileSync(path.join(snaps, "restore-20200101T000001Z/tree.old/keep.txt"), "a shared/ tree\n");
    mkdirSync(path.join(snaps, "restore-mine"));
    mkdirSync(path.join(snaps, "restore-20200101T000002Z"));
    r = await cutover(["snapshot", "restore", snap], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const left = readdirSync(snaps);
    assert.ok(!left.includes("restore-20200101T000002Z"), "an old work directory goes");
    for (const kept of ["restore-20200101T000000Z", "restore-20200101T000001Z", "restore-mine"])
      assert.ok(left.includes(kept), `${kept} stays`);
    assert.equal(readFileSync(path.join(data, "keep.txt"), "utf8"), "precious\n", "nothing through the link");
    assert.equal(
      readFileSync(path.join(snaps, "restore-20200101T000001Z/tree.old/keep.txt"), "utf8"),
      "a shared/ tree\n",
    );
  } finally {
    fx.cleanup();
  }
});
