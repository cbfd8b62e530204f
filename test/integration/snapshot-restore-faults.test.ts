import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { layout } from "../../src/plan/layout.js";
import { removeSnapshots } from "../../src/plan/snapshot-cmds.js";
import { renderScript } from "../../src/shell/cmd.js";
import { quote } from "../../src/shell/quote.js";
import { wrapCommand } from "../helpers/bin.js";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { createSnapshotIn } from "../helpers/snapshots.js";
import { phpConnection, sql } from "../helpers/sqlite.js";

test("a disk that fills while shared/ is swapped in: the restore never says shared/ was not changed when it was", async () => {
  const fx = fixture();
  const mount = mkdtempSync(path.join(os.tmpdir(), "cutover-tmpfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mount]);
  try {
    const deployPath = path.join(mount, "app 'x'");
    fx.writeConfig({}, [{ path: deployPath }]);
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const snap = await createSnapshotIn(fx.app);
    const env = path.join(deployPath, "shared/.env");
    writeFileSync(env, "APP_KEY=after the snapshot\n");
    // The app fills the disk just as the restored tree is swapped in (perl runs the exchange).
    const bin = wrapCommand(
      path.join(fx.dir, "filling-perl"),
      "perl",
      `case "$*" in *RENAME*|*exchange*) cat /dev/zero > "$5/../filler" 2>/dev/null ;; esac`,
    );
    r = await cutover(["snapshot", "restore", snap], fx.app, { PATH: `${bin}:${process.env.PATH}` });
    // The exchange needs no space: shared/ is swapped; only perl's record of how is lost.
    assert.equal(readFileSync(env, "utf8"), "APP_KEY=secret\n", "shared/ is the snapshot's");
    assert.doesNotMatch(r.stderr, /shared\/ was not changed|failed before shared\/ was swapped/, r.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /shared\/ restored from \d{8}T\d{6}Z by a swap whose record was lost/);
  } finally {
    execFileSync("umount", [mount]);
    rmSync(mount, { recursive: true, force: true });
    fx.cleanup();
  }
});

test("a database that was an empty file in the snapshot (Laravel's `touch database.sqlite`) and is a live WAL database: a connection open across the restore and a new one use one database", async () => {
  const fx = fixture();
  try {
    fx.writeConfig();
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const db = path.join(fx.deployPath, "shared/storage/uploads/database.sqlite");
    mkdirSync(path.dirname(db), { recursive: true });
    writeFileSync(db, "");
    const snap = await createSnapshotIn(fx.app);
    sql(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    const late = await phpConnection(db);
    try {
      r = await cutover(["snapshot", "restore", snap], fx.app);
      assert.equal(r.code, 0, r.stderr);
      // A request that opened the database before the restore writes after it; then a new one.
      await late.exec("PRAGMA journal_mode=WAL");
      await late.exec("CREATE TABLE late(x)");
      await late.exec("INSERT INTO late VALUES (2)");
      assert.equal(
        sql(db, "PRAGMA journal_mode=WAL; SELECT count(*) FROM late;"),
        "wal\n1",
        "the new connection sees the row",
      );
    } finally {
      await late.close();
    }
    assert.equal(
      sql(db, "PRAGMA integrity_check; SELECT count(*) FROM late;"),
      "ok\n1",
      "and it is there after all closed",
    );
  } finally {
    fx.cleanup();
  }
});

test("a fifo the app makes as a live database's -journal during a restore: it ends and names the databases already restored", async () => {
  const fx = fixture();
  try {
    fx.writeConfig({ command_timeout: 8 });
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const dir = path.join(fx.deployPath, "shared/storage/uploads");
    for (const n of ["a.db", "b.db"]) sql(path.join(dir, n), "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    const snap = await createSnapshotIn(fx.app);
    for (const n of ["a.db", "b.db"]) sql(path.join(dir, n), "INSERT INTO t VALUES (2);");
    // After the snapshot taken before the restore, the app makes the second database's -journal a fifo.
    const bin = wrapCommand(
      path.join(fx.dir, "fifo-sqlite3"),
      "sqlite3",
      `case "$*" in *"readfile('1.path')"*) mkfifo "$(cat 2.path)-journal" ;; esac`,
    );
    r = await cutover(["snapshot", "restore", snap], fx.app, { PATH: `${bin}:${process.env.PATH}` });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /timed out/, "it did not wait on the fifo");
    assert.match(
      r.stderr,
      /\.db-journal is not a regular file, so SQLite would wait on it or fail: remove it/,
    );
    for (const n of ["a.db", "b.db"]) rmSync(path.join(dir, `${n}-journal`), { force: true });
    const restored = ["a.db", "b.db"].filter((n) => sql(path.join(dir, n), "SELECT count(*) FROM t") === "1");
    assert.equal(restored.length, 1, "the first was restored, the second refused");
    for (const n of restored)
      assert.match(
        r.stderr,
        new RegExp(n.replace(".", "\\.")),
        `${n} holds the snapshot's rows: ${r.stderr}`,
      );
  } finally {
    fx.cleanup();
  }
});

test("a fifo as a live database's -journal: a snapshot fails at once with the reason, not at the command timeout", async () => {
  const fx = fixture();
  try {
    fx.writeConfig({ command_timeout: 8 });
    assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
    const db = path.join(fx.deployPath, "shared/storage/uploads/app.db");
    sql(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    execFileSync("mkfifo", [`${db}-journal`]);
    const r = await cutover(["snapshot", "create"], fx.app);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /timed out/);
    assert.match(r.stderr, /app\.db-journal is not a regular file/);
    assert.match(r.stderr, /failed and was removed \(a SQLite backup failed\); shared\/ was not changed/);
  } finally {
    fx.cleanup();
  }
});

test("a shared/ tree a restore could not put back (both renames of the fallback failed) is never removed: not by the failing run, a later restore or prune", async () => {
  const fx = fixture();
  try {
    assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
    const shared = path.join(fx.deployPath, "shared");
    const snap = await createSnapshotIn(fx.app);
    writeFileSync(path.join(shared, ".env"), "APP_KEY=live data\n");
    // The exchange program moves shared/ aside, then cannot rename the tree in nor shared/ back.
    const bin = wrapCommand(
      path.join(fx.dir, "stuck-perl"),
      "perl",
      `case "$*" in *syscall*) mv -T -- "$5" "$4.old"; echo "cannot rename the restored tree in: (the test)" >&2; exit 1 ;; esac`,
    );
    let r = await cutover(["snapshot", "restore", snap], fx.app, { PATH: `${bin}:${process.env.PATH}` });
    assert.equal(r.code, 1, r.stderr);
    const parked = path.join(fx.deployPath, ".cutover/snapshots", `restore-${snap}`, "tree.old");
    assert.match(
      r.stderr,
      /could not put shared\/ back: the live shared\/ is at .*tree\.old; move it back with mv -T/,
    );
    const kept = () => readFileSync(path.join(parked, ".env"), "utf8");
    assert.equal(kept(), "APP_KEY=live data\n", "the failing run kept it");
    // Every later look at the snapshots says where it is; a restore refuses, prune leaves it.
    const warning =
      /tree\.old is a shared\/ tree a restore moved aside and could not put back: move it back \(mv -T\)/;
    r = await cutover(["snapshot", "restore", snap], fx.app);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, warning);
    r = await cutover(["snapshot", "prune"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, warning);
    assert.equal(kept(), "APP_KEY=live data\n", "a later restore and prune kept it");
    // Even when asked by name, the removal program refuses it.
    const removal = spawnSync("sh", [
      "-c",
      renderScript([removeSnapshots(layout(fx.deployPath), [`restore-${snap}`])]),
    ]);
    assert.equal(removal.status, 3, String(removal.stderr));
    assert.match(String(removal.stderr), /its tree\.old is a shared\/ tree a restore could not put back/);
    assert.equal(kept(), "APP_KEY=live data\n");
    renameSync(parked, shared);
    r = await cutover(["snapshot", "prune"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(path.join(shared, ".env"), "utf8"), "APP_KEY=live data\n");
  } finally {
    fx.cleanup();
  }
});

test("the app swaps a live database's directory for a link to outside while the restore links it in: nothing outside is linked into shared/", async () => {
  const fx = fixture();
  try {
    assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
    const dir = path.join(fx.deployPath, "shared/storage/uploads/data");
    mkdirSync(dir);
    const db = path.join(dir, "app.db");
    sql(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    const outside = path.join(fx.dir, "outside");
    mkdirSync(outside);
    sql(path.join(outside, "app.db"), "CREATE TABLE secret(x); INSERT INTO secret VALUES ('outside');");
    const snap = await createSnapshotIn(fx.app);
    sql(db, "INSERT INTO t VALUES (2);");
    // The app's move, made right before the first link: data/ becomes a link to outside/.
    const mark = path.join(fx.dir, "swapped-once");
    const bin = wrapCommand(
      path.join(fx.dir, "racing-ln"),
      "ln",
      `[ -e ${quote(mark)} ] || { : > ${quote(mark)}; mv -T -- ${quote(dir)} ${quote(`${dir}.moved`)}; ln -s ${quote(outside)} ${quote(dir)}; }`,
    );
    const r = await cutover(["--json", "snapshot", "restore", snap], fx.app, {
      PATH: `${bin}:${process.env.PATH}`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(mark), "the app's move happened");
    assert.equal(statSync(path.join(outside, "app.db")).nlink, 1, "the outside file was not linked in");
    assert.equal(sql(db, "SELECT group_concat(x) FROM t"), "1", "the restored database is shared/'s own");
  } finally {
    fx.cleanup();
  }
});

test("a host whose dd lacks iflag=nonblock,nofollow (busybox): live databases are still found and restored in place", async () => {
  const fx = fixture();
  try {
    assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
    const db = path.join(fx.deployPath, "shared/storage/uploads/app.db");
    sql(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    const snap = await createSnapshotIn(fx.app);
    sql(db, "INSERT INTO t VALUES (2);");
    const bin = wrapCommand(
      path.join(fx.dir, "busybox-dd"),
      "dd",
      `case "$*" in *iflag=*) echo "dd: invalid iflag" >&2; exit 1 ;; esac`,
    );
    const ino = statSync(db).ino;
    const r = await cutover(["--json", "snapshot", "restore", snap], fx.app, {
      PATH: `${bin}:${process.env.PATH}`,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json<{ sqlite: string[] }[]>(r)[0]!.sqlite, ["storage/uploads/app.db"]);
    assert.equal(statSync(db).ino, ino, "restored in place");
    assert.equal(sql(db, "SELECT group_concat(x) FROM t"), "1");
  } finally {
    fx.cleanup();
  }
});

test("a link planted at the restore's work directory's name: the link goes, never what it points to; one at restore-<id>.old stops the restore", async () => {
  const fx = fixture();
  try {
    assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
    const snap = await createSnapshotIn(fx.app);
    const snaps = path.join(fx.deployPath, ".cutover/snapshots");
    const victim = path.join(fx.dir, "victim");
    mkdirSync(path.join(victim, "tree"), { recursive: true });
    writeFileSync(path.join(victim, "tree/keep.txt"), "not cutover's\n");
    symlinkSync(victim, path.join(snaps, `restore-${snap}.old`));
    let r = await cutover(["snapshot", "restore", snap], fx.app);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /restore-\d{8}T\d{6}Z\.old is a shared\/ tree an earlier restore could not put back/,
    );
    rmSync(path.join(snaps, `restore-${snap}.old`));
    symlinkSync(victim, path.join(snaps, `restore-${snap}`));
    r = await cutover(["snapshot", "restore", snap], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(path.join(victim, "tree/keep.txt"), "utf8"), "not cutover's\n");
    assert.ok(!existsSync(path.join(snaps, `restore-${snap}`)), "the link (and the work directory) is gone");
  } finally {
    fx.cleanup();
  }
});
