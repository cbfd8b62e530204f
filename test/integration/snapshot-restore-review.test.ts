import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { wrapCommand } from "../helpers/bin.js";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
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
    r = await cutover(["--json", "snapshot", "create"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const snap = json<{ id: string }[]>(r)[0]!.id;
    const env = path.join(deployPath, "shared/.env");
    writeFileSync(env, "APP_KEY=after the snapshot\n");
    // The app fills the disk just as the restored tree is swapped in (perl runs the exchange).
    const bin = wrapCommand(
      path.join(fx.dir, "filling-perl"),
      "perl",
      `case "$*" in *RENAME*|*exchange*) cat /dev/zero > "$5/../filler" 2>/dev/null ;; esac`,
    );
    r = await cutover(["snapshot", "restore", snap], fx.app, { PATH: `${bin}:${process.env.PATH}` });
    const restored = readFileSync(env, "utf8") === "APP_KEY=secret\n";
    if (restored) {
      assert.doesNotMatch(r.stderr, /shared\/ was not changed/, `shared/ was restored, yet: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /failed before shared\/ was swapped/, r.stderr);
    } else {
      assert.notEqual(r.code, 0, r.stderr);
    }
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
    r = await cutover(["--json", "snapshot", "create"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const snap = json<{ id: string }[]>(r)[0]!.id;
    sql(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    const late = await phpConnection(db);
    try {
      r = await cutover(["snapshot", "restore", snap], fx.app);
      assert.equal(r.code, 0, r.stderr);
      // A request that opened the database before the restore writes after it; then a new one.
      await late.exec("PRAGMA journal_mode=WAL");
      await late.exec("CREATE TABLE late(x)");
      await late.exec("INSERT INTO late VALUES (2)");
      assert.equal(sql(db, "PRAGMA journal_mode=WAL; SELECT count(*) FROM late;"), "wal\n1", "the new connection sees the row");
    } finally {
      await late.close();
    }
    assert.equal(sql(db, "PRAGMA integrity_check; SELECT count(*) FROM late;"), "ok\n1", "and it is there after all closed");
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
    r = await cutover(["--json", "snapshot", "create"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const snap = json<{ id: string }[]>(r)[0]!.id;
    for (const n of ["a.db", "b.db"]) sql(path.join(dir, n), "INSERT INTO t VALUES (2);");
    // After the snapshot taken before the restore, the app makes the second database's -journal a fifo.
    const bin = wrapCommand(
      path.join(fx.dir, "fifo-sqlite3"),
      "sqlite3",
      `case "$*" in *"readfile('1.path')"*) mkfifo "$(cat 2.path)-journal" ;; esac`,
    );
    const started = Date.now();
    r = await cutover(["snapshot", "restore", snap], fx.app, { PATH: `${bin}:${process.env.PATH}` });
    assert.notEqual(r.code, 0, r.stdout + r.stderr);
    assert.ok(Date.now() - started < 60_000, "it ends");
    for (const n of ["a.db", "b.db"]) rmSync(path.join(dir, `${n}-journal`), { force: true });
    const restored = ["a.db", "b.db"].filter((n) => sql(path.join(dir, n), "SELECT count(*) FROM t") === "1");
    for (const n of restored) assert.match(r.stderr, new RegExp(n.replace(".", "\\.")), `${n} holds the snapshot's rows: ${r.stderr}`);
  } finally {
    fx.cleanup();
  }
});
