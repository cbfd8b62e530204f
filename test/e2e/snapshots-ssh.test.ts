import assert from "node:assert/strict";
import { chmodSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { sql } from "../helpers/sqlite.js";
import { type Sshd, type SshRig, sshHost, sshRig } from "../helpers/sshd.js";
import { snapshot as tree } from "../helpers/tree.js";

let rig: SshRig;
let sshd: Sshd;
const fx = fixture();
const shared = (...p: string[]) => path.join(fx.deployPath, "shared", ...p);

before(async () => {
  rig = sshRig();
  sshd = await rig.start();
  fx.writeConfig({ snapshots: { before_deploy: true, keep: 3 } }, [
    sshHost(rig, sshd, fx.deployPath, { name: "web1" }),
  ]);
});
after(async () => {
  await rig.stopAll();
  fx.cleanup();
});

test("over SSH: snapshot create, list and restore give the exact tree and database rows back", async () => {
  let r = await cutover(["deploy", "-q"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  writeFileSync(shared("storage/uploads/photo.jpg"), "jpeg bytes\n", { mode: 0o640 });
  chmodSync(shared("storage/uploads/photo.jpg"), 0o640);
  symlinkSync("photo.jpg", shared("storage/uploads/latest"));
  sql(shared("storage/uploads/data.sqlite3"), "CREATE TABLE t(x); INSERT INTO t VALUES ('a'), ('b');");
  const files = () => new Map([...tree(shared())].filter(([p]) => !p.includes("data.sqlite3")));
  const before = files();

  r = await cutover(["--json", "snapshot", "create"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const made = json<{ host: string; id: string; sqlite: string[] }[]>(r);
  assert.deepEqual(
    made.map((m) => [m.host, m.sqlite]),
    [["web1", ["storage/uploads/data.sqlite3"]]],
  );
  const id = made[0]!.id;
  const list = json<{ id: string; hosts: Record<string, string> }[]>(
    await cutover(["--json", "snapshot", "list"], fx.app),
  );
  assert.deepEqual(list[0], { ...list[0], id, hosts: { web1: "complete" } });

  unlinkSync(shared("storage/uploads/photo.jpg"));
  writeFileSync(shared(".env"), "APP_KEY=changed\n");
  sql(shared("storage/uploads/data.sqlite3"), "DELETE FROM t; INSERT INTO t VALUES ('z');");
  const dbIno = statSync(shared("storage/uploads/data.sqlite3")).ino;
  r = await cutover(["snapshot", "restore", id, "--hosts", "web1"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(
      `web1: shared/ restored from ${id} by one rename exchange \\(SQLite restored in place: storage/uploads/data\\.sqlite3\\)`,
    ),
  );
  assert.equal(statSync(shared("storage/uploads/data.sqlite3")).ino, dbIno, "the live database file is kept");
  assert.deepEqual(files(), before);
  assert.equal(sql(shared("storage/uploads/data.sqlite3"), "SELECT group_concat(x) FROM t"), "a,b");
  assert.equal(statSync(shared("storage/uploads/photo.jpg")).mode & 0o777, 0o640);
  assert.equal(readFileSync(path.join(fx.deployPath, "current/.env"), "utf8"), "APP_KEY=secret\n");
});

test("over SSH: a deploy snapshots first, and rollback --restore-shared restores it after the switch back", async () => {
  fx.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
  let r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const release = json<{ release: string }>(r).release;
  const list = json<{ meta: { reason: string; release: string } }[]>(
    await cutover(["--json", "snapshot", "list"], fx.app),
  );
  assert.equal(list[0]!.meta.reason, "before-deploy");
  assert.equal(list[0]!.meta.release, release);
  writeFileSync(shared(".env"), "APP_KEY=written by v2\n");
  r = await cutover(["--json", "rollback", "--restore-shared"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.notEqual(json<{ release: string }>(r).release, release, "the code was switched back");
  assert.equal(readFileSync(shared(".env"), "utf8"), "APP_KEY=secret\n", "and shared/ restored");
});
