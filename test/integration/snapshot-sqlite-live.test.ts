import assert from "node:assert/strict";
import {
  copyFileSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { wrapCommand } from "../helpers/bin.js";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { createSnapshotIn } from "../helpers/snapshots.js";
import { phpConnection, sql, walWriter } from "../helpers/sqlite.js";

// A restore swaps the whole shared/ tree, but the app's SQLite connections outlive it: one opened
// before the swap holds the old database file and opens its -wal/-shm by name later. These tests
// keep such connections open across a restore and check the database stays one database.
const fx = fixture();
after(() => fx.cleanup());
const shared = (...p: string[]) => path.join(fx.deployPath, "shared", ...p);
const ok = async (...args: string[]) => {
  const r = await cutover(args, fx.app);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r;
};
const create = () => createSnapshotIn(fx.app);
const restore = async (id: string) =>
  json<{ sqlite: string[]; swap: string }[]>(await ok("--json", "snapshot", "restore", id))[0]!;
const rows = (n: number, from = 1) =>
  `WITH RECURSIVE c(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM c WHERE i < ${from + n - 1}) INSERT INTO t SELECT i, hex(randomblob(200)) FROM c;`;
const intact = (db: string) => assert.equal(sql(db, "PRAGMA integrity_check"), "ok", `${db} is intact`);

test("setup: a deploy", async () => {
  await ok("deploy", "-q");
});

test("connections open across a restore write into the restored databases (WAL and rollback journal), nothing mixed or lost", async () => {
  const wal = shared("storage/uploads/app.db");
  const journal = shared("storage/uploads/journal.db");
  sql(wal, `PRAGMA journal_mode=WAL; CREATE TABLE t(x INTEGER, pad TEXT); ${rows(500)}`);
  sql(journal, `CREATE TABLE t(x INTEGER, pad TEXT); ${rows(300)}`);
  const snap = await create();
  // The live databases move on: other pages, rows in the WAL, a writer holding it open.
  sql(wal, `DELETE FROM t WHERE x > 250; INSERT INTO t SELECT x + 1000, pad FROM t;`);
  sql(journal, `DELETE FROM t WHERE x % 2 = 0;`);
  const walIno = statSync(wal).ino;
  const used = await walWriter(wal);
  const late = await phpConnection(wal);
  const lateJournal = await phpConnection(journal);
  try {
    await used.exec("INSERT INTO t VALUES (-1, 'before the restore');");
    const restored = await restore(snap);
    assert.deepEqual(restored.sqlite.sort(), ["storage/uploads/app.db", "storage/uploads/journal.db"]);
    assert.equal(statSync(wal).ino, walIno, "the live database file stays the one the app has open");
    // A request that opened the database before the swap runs its first statement after it.
    await late.exec("INSERT INTO t VALUES (-2, 'late')");
    await used.exec("INSERT INTO t VALUES (-3, 'used');");
    await lateJournal.exec("INSERT INTO t VALUES (-4, 'late journal')");
  } finally {
    await Promise.all([used.close(), late.close(), lateJournal.close()]);
  }
  intact(wal);
  intact(journal);
  assert.equal(sql(wal, "SELECT count(*), sum(x) FROM t WHERE x > 0"), "500|125250", "the snapshot's rows");
  assert.equal(sql(wal, "SELECT group_concat(x) FROM t WHERE x < 0"), "-2,-3", "and what was written after");
  assert.equal(sql(journal, "SELECT count(*) FROM t WHERE x > 0"), "300");
  assert.equal(sql(journal, "SELECT group_concat(x) FROM t WHERE x < 0"), "-4");
});

test("a live WAL database whose page size changed since the snapshot, and more databases than one sqlite3 attaches", async () => {
  const dbs = Array.from({ length: 11 }, (_, i) => shared(`storage/uploads/many/db ${i} 'ü'.sqlite`));
  mkdirSync(path.dirname(dbs[0]!), { recursive: true });
  for (const db of dbs) sql(db, `PRAGMA journal_mode=WAL; CREATE TABLE t(x INTEGER, pad TEXT); ${rows(50)}`);
  const snap = await create();
  sql(dbs[0]!, "PRAGMA journal_mode=DELETE; PRAGMA page_size=8192; VACUUM; PRAGMA journal_mode=WAL;");
  assert.equal(sql(dbs[0]!, "PRAGMA page_size"), "8192");
  for (const db of dbs) sql(db, "DELETE FROM t WHERE x > 10;");
  const held = await Promise.all(dbs.map((db) => phpConnection(db)));
  try {
    const restored = await restore(snap);
    assert.equal(restored.sqlite.filter((p) => p.startsWith("storage/uploads/many/")).length, 11);
    for (const [i, c] of held.entries()) await c.exec(`INSERT INTO t VALUES (-${i + 1}, 'after')`);
  } finally {
    await Promise.all(held.map((c) => c.close()));
  }
  for (const [i, db] of dbs.entries()) {
    intact(db);
    assert.equal(sql(db, "SELECT count(*) FROM t WHERE x > 0"), "50", db);
    assert.equal(sql(db, "SELECT group_concat(x) FROM t WHERE x < 0"), `-${i + 1}`, db);
  }
});

test("a database the app turned into a link to one outside shared/ is restored as a file; the outside one is untouched", async () => {
  const inside = shared("storage/uploads/swapped.db");
  const outside = path.join(fx.dir, "outside.db");
  sql(inside, `CREATE TABLE t(x INTEGER, pad TEXT); ${rows(20)}`);
  const snap = await create();
  copyFileSync(inside, outside);
  sql(outside, "DELETE FROM t; INSERT INTO t VALUES (99, 'outside');");
  renameSync(inside, `${inside}.gone`);
  symlinkSync(outside, inside);
  const restored = await restore(snap);
  assert.ok(!restored.sqlite.includes("storage/uploads/swapped.db"));
  assert.ok(lstatSync(inside).isFile(), "the snapshot's copy, not the link");
  assert.equal(statSync(outside).nlink, 1, "never linked into shared/");
  assert.equal(sql(inside, "SELECT count(*) FROM t"), "20");
  assert.equal(sql(outside, "SELECT group_concat(x) FROM t"), "99", "nothing was restored through the link");
  assert.deepEqual(
    readdirSync(path.join(fx.deployPath, ".cutover/snapshots")).filter((n) => n.startsWith("restore-")),
    [],
  );
});

test("a restore that fails before the swap names the databases already restored in place, and changes nothing else", async () => {
  const dbs = readdirSync(shared("storage/uploads/many")).map((n) => shared("storage/uploads/many", n));
  const snap = await create();
  const changeAll = () => {
    for (const db of dbs) sql(db, "DELETE FROM t WHERE x > 5;");
    writeFileSync(shared(".env"), "APP_KEY=after the snapshot\n");
  };
  const failing = async (name: string, when: string) => {
    const bin = wrapCommand(
      path.join(fx.dir, name),
      "sqlite3",
      `case "$*" in ${when}) echo "sqlite3 stopped by the test" >&2; exit 1 ;; esac`,
    );
    const r = await cutover(["snapshot", "restore", snap], fx.app, { PATH: `${bin}:${process.env.PATH}` });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /failed before shared\/ was swapped, but these SQLite databases in it already hold the snapshot's rows.*snapshot \d{8}T\d{6}Z, taken just before, has their rows from before/,
    );
    assert.equal(readFileSync(shared(".env"), "utf8"), "APP_KEY=after the snapshot\n", "not swapped");
    assert.deepEqual(
      readdirSync(path.join(fx.deployPath, ".cutover/snapshots")).filter((n) => n.startsWith("restore-")),
      [],
    );
    const named = [...r.stderr.matchAll(/"(storage\/uploads\/[^"]+)"/g)].map((m) => shared(m[1]!));
    for (const db of dbs) {
      const restored = sql(db, "SELECT count(*) FROM t WHERE x > 0") === "50";
      assert.equal(named.includes(db), restored, `${db} named as restored exactly when it is`);
    }
    return named;
  };
  changeAll();
  // The ninth database's restore fails: eight are restored in place, nothing is swapped.
  assert.equal((await failing("fails-9th", `*"readfile('9.path')"*"restore"*`)).length, 8);
  changeAll();
  // All are restored, then holding the second group fails: all are named, nothing is swapped.
  // (every live database: those of the earlier tests too, one of them the empty database test 3's
  // restore left where the app had made a database after that snapshot)
  const live = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? live(path.join(dir, e.name))
        : e.isFile() && readFileSync(path.join(dir, e.name)).subarray(0, 15).toString() === "SQLite format 3"
          ? [path.join(dir, e.name)]
          : [],
    );
  assert.deepEqual(
    (await failing("fails-hold", `*"readfile('9.path')"*"BEGIN EXCLUSIVE"*`)).sort(),
    live(shared("storage/uploads")).sort(),
  );
  // Run again, it completes.
  await restore(snap);
  for (const db of dbs) assert.equal(sql(db, "SELECT count(*) FROM t WHERE x > 0"), "50", db);
  assert.equal(readFileSync(shared(".env"), "utf8"), "APP_KEY=secret\n");
});

test("a live database the snapshot lacks, with connections open across the restore: it becomes one empty database, not two mixed", async () => {
  const db = shared("storage/uploads/created-later.db");
  const snap = await create();
  sql(db, `PRAGMA journal_mode=WAL; CREATE TABLE t(x INTEGER, pad TEXT); ${rows(200)}`);
  const used = await walWriter(db);
  const late = await phpConnection(db);
  try {
    await used.exec("INSERT INTO t VALUES (-1, 'before the restore');");
    const restored = await restore(snap);
    assert.ok(restored.sqlite.includes("storage/uploads/created-later.db"), "restored in place, as empty");
    await late.exec("CREATE TABLE IF NOT EXISTS after(x)");
    await late.exec("INSERT INTO after VALUES ('late')");
    await used.exec("CREATE TABLE IF NOT EXISTS after(x); INSERT INTO after VALUES ('used');");
  } finally {
    await Promise.all([used.close(), late.close()]);
  }
  intact(db);
  assert.equal(
    sql(db, "SELECT name FROM sqlite_master WHERE type = 'table'"),
    "after",
    "t is gone with the restore",
  );
  assert.equal(sql(db, "SELECT group_concat(x) FROM after"), "late,used");
});
