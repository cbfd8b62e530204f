import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { wrapCommand } from "../helpers/bin.js";
import { type CliResult, cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { createSnapshotIn } from "../helpers/snapshots.js";
import { phpConnection, sql, walWriter } from "../helpers/sqlite.js";

test("a live database in a directory whose name ends in a newline stays the file the app holds", async () => {
  const fx = fixture();
  try {
    assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
    const dir = path.join(fx.deployPath, "shared/storage/uploads/data\n");
    mkdirSync(dir);
    const db = path.join(dir, "app.db");
    sql(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    const snap = await createSnapshotIn(fx.app);
    sql(db, "INSERT INTO t VALUES (2);");
    const ino = statSync(db).ino;
    const late = await phpConnection(db);
    try {
      const r = await cutover(["--json", "snapshot", "restore", snap], fx.app);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(statSync(db).ino, ino, "the live database file stays the one the app has open");
      await late.exec("INSERT INTO t VALUES (3)");
    } finally {
      await late.close();
    }
    assert.equal(sql(db, "SELECT group_concat(x) FROM t"), "1,3", "the snapshot's row and the late one");
  } finally {
    fx.cleanup();
  }
});

test("the app deletes a live database after it is restored in place, before it is held: the snapshot's copy goes in, not an empty file", async () => {
  const fx = fixture();
  try {
    assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
    const db = path.join(fx.deployPath, "shared/storage/uploads/app.db");
    sql(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    const snap = await createSnapshotIn(fx.app);
    sql(db, "INSERT INTO t VALUES (2);");
    // Run in the restore's db directory: right after the database is restored in place, the app deletes it.
    const real = execFileSync("sh", ["-c", "command -v sqlite3"], { encoding: "utf8" }).trim();
    const bin = wrapCommand(
      path.join(fx.dir, "deleting-sqlite3"),
      "sqlite3",
      `case "$*" in *"readfile('1.path')"*".restore"*) ${real} "$@" || exit; rm -f -- "$(cat 1.path)"; exit 0 ;; esac`,
    );
    const r = await cutover(["--json", "snapshot", "restore", snap], fx.app, {
      PATH: `${bin}:${process.env.PATH}`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      sql(db, "SELECT group_concat(name) FROM sqlite_master"),
      "t",
      `the snapshot's table: ${r.stdout}`,
    );
    assert.equal(sql(db, "SELECT group_concat(x) FROM t"), "1", "the snapshot's rows");
  } finally {
    fx.cleanup();
  }
});

test("a directory in the snapshot named like a live database's -wal: the restore fails before the swap, linking nothing into it", async () => {
  const fx = fixture();
  try {
    assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
    const uploads = path.join(fx.deployPath, "shared/storage/uploads");
    mkdirSync(path.join(uploads, "late.db-wal"));
    writeFileSync(path.join(uploads, "late.db-wal/photo.jpg"), "app data\n");
    const snap = await createSnapshotIn(fx.app);
    // The app now keeps a WAL database there: its -wal would be linked to the directory's name.
    rmSync(path.join(uploads, "late.db-wal"), { recursive: true });
    const db = path.join(uploads, "late.db");
    sql(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    const held = await walWriter(db);
    let r: CliResult;
    try {
      r = await cutover(["snapshot", "restore", snap], fx.app);
    } finally {
      await held.close();
    }
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /failed before shared\/ was swapped.*"storage\/uploads\/late\.db" \(emptied: the snapshot lacks it\)/s,
    );
    assert.ok(
      statSync(db).isFile() && !existsSync(path.join(uploads, "late.db-wal/photo.jpg")),
      "not swapped",
    );
    const snapTree = path.join(
      fx.deployPath,
      ".cutover/snapshots",
      snap,
      "shared/storage/uploads/late.db-wal",
    );
    assert.deepEqual(readdirSync(snapTree), ["photo.jpg"], "the snapshot is as it was");
  } finally {
    fx.cleanup();
  }
});
