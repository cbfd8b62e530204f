import assert from "node:assert/strict";
import { mkdirSync, statSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { phpConnection, sql } from "../helpers/sqlite.js";

test("a live database in a directory whose name ends in a newline stays the file the app holds", async () => {
  const fx = fixture();
  try {
    assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
    const dir = path.join(fx.deployPath, "shared/storage/uploads/data\n");
    mkdirSync(dir);
    const db = path.join(dir, "app.db");
    sql(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    let r = await cutover(["--json", "snapshot", "create"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const snap = json<{ id: string }[]>(r)[0]!.id;
    sql(db, "INSERT INTO t VALUES (2);");
    const ino = statSync(db).ino;
    const late = await phpConnection(db);
    try {
      r = await cutover(["--json", "snapshot", "restore", snap], fx.app);
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
