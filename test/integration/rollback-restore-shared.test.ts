import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { wrapCommand } from "../helpers/bin.js";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { sql } from "../helpers/sqlite.js";

test("rollback --restore-shared whose restore fails after putting a database back in place: it says so, not that shared/ was not restored", async () => {
  const fx = fixture();
  try {
    fx.writeConfig({ snapshots: { before_deploy: true } });
    const shared = (...p: string[]) => path.join(fx.deployPath, "shared", ...p);
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const dbs = ["a.db", "b.db"].map((n) => shared("storage/uploads", n));
    for (const db of dbs) sql(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    fx.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
    r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    for (const db of dbs) sql(db, "INSERT INTO t VALUES (2);");
    writeFileSync(shared(".env"), "APP_KEY=after the deploy\n");
    const bin = wrapCommand(
      path.join(fx.dir, "failing-sqlite3"),
      "sqlite3",
      `case "$*" in *"readfile('2.path')"*".restore"*) echo "sqlite3 stopped by the test" >&2; exit 1 ;; esac`,
    );
    r = await cutover(["rollback", "--restore-shared"], fx.app, { PATH: `${bin}:${process.env.PATH}` });
    const counts = dbs.map((db) => sql(db, "SELECT count(*) FROM t"));
    assert.deepEqual([...counts].sort(), ["1", "2"], "one database was put back in place");
    assert.equal(readFileSync(shared(".env"), "utf8"), "APP_KEY=after the deploy\n", "not swapped");
    assert.doesNotMatch(r.stderr, /shared\/ was not restored/, r.stderr);
    assert.match(r.stderr, /already hold the snapshot's rows/);
    assert.notEqual(r.code, 0, "a restore that failed midway is not a success");
  } finally {
    fx.cleanup();
  }
});

test("rollback --restore-shared writes the restore to history, naming the snapshot restored and the one that has the replaced shared/", async () => {
  const fx = fixture();
  try {
    fx.writeConfig({ snapshots: { before_deploy: true } });
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    fx.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
    r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    r = await cutover(["rollback", "--restore-shared"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const snaps = json<{ id: string; meta: { reason: string } }[]>(
      await cutover(["--json", "snapshot", "list"], fx.app),
    );
    const saved = snaps.find((s) => s.meta.reason === "before-restore")!.id;
    const restored = snaps.filter((s) => s.meta.reason === "before-deploy")[0]!.id;
    const history = json<{ event: string; reason: string }[]>(await cutover(["--json", "history"], fx.app));
    const entry = history.find((h) => h.event === "restore-shared");
    assert.ok(entry, "a restore-shared event");
    assert.match(entry.reason, new RegExp(`snapshot ${restored}.*snapshot ${saved}`));
  } finally {
    fx.cleanup();
  }
});
