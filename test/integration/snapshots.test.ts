import assert from "node:assert/strict";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { sql, walWriter } from "../helpers/sqlite.js";
import { snapshot as tree } from "../helpers/tree.js";

const fx = fixture();
after(() => fx.cleanup());
fx.writeConfig({ snapshots: { before_deploy: true, keep: 3 } });
const shared = (...p: string[]) => path.join(fx.deployPath, "shared", ...p);
const snaps = (...p: string[]) => path.join(fx.deployPath, ".cutover/snapshots", ...p);
const db = shared("storage/uploads/app.db");
const ok = async (...args: string[]) => {
  const r = await cutover(args, fx.app);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r;
};
const create = async () =>
  json<{ id: string; sqlite: string[] }[]>(await ok("--json", "snapshot", "create"))[0]!;
/** The tree without the database and its WAL files, which are compared by their rows. */
const files = () => new Map([...tree(shared())].filter(([p]) => !p.includes("app.db")));

test("setup: a deploy, then the app's files: modes, a symlink, an empty dir, a SQLite db in WAL mode", async () => {
  await ok("deploy", "-q");
  assert.ok(!existsSync(snaps()), "the first deploy has no shared/ to snapshot");
  writeFileSync(shared("storage/uploads/private.txt"), "secret\n", { mode: 0o600 });
  writeFileSync(shared("storage/uploads/run.sh"), "#!/bin/sh\n", { mode: 0o755 });
  chmodSync(shared("storage/uploads/run.sh"), 0o755);
  mkdirSync(shared("storage/uploads/nested dir/empty"), { recursive: true });
  writeFileSync(shared('storage/uploads/nested dir/it\'s "odd" ü.txt'), "odd name\n");
  symlinkSync("private.txt", shared("storage/uploads/link to private"));
  sql(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);");
});

test("snapshot → the app writes, changes and deletes files and database rows → restore: the exact tree and rows", async () => {
  const writer = await walWriter(db);
  try {
    await writer.exec("INSERT INTO t VALUES (3);");
    // Negative control: the committed row 3 is only in the -wal file, so a plain copy misses it.
    const plain = path.join(fx.dir, "plain-copy.db");
    copyFileSync(db, plain);
    assert.equal(sql(plain, "SELECT count(*) FROM t"), "2");
    const before = files();
    const snap = await create();
    assert.deepEqual(snap.sqlite, ["storage/uploads/app.db"], "found by its header, not its name");
    assert.equal(
      sql(snaps(snap.id, "shared/storage/uploads/app.db"), "SELECT group_concat(x) FROM t"),
      "1,2,3",
    );
    assert.ok(!existsSync(snaps(snap.id, "shared/storage/uploads/app.db-wal")), "no stale WAL copy");

    await writer.exec("INSERT INTO t VALUES (4); DELETE FROM t WHERE x = 1;");
    writeFileSync(shared("storage/uploads/private.txt"), "changed\n");
    chmodSync(shared("storage/uploads/run.sh"), 0o644);
    unlinkSync(shared("storage/uploads/link to private"));
    symlinkSync("run.sh", shared("storage/uploads/link to private"));
    rmSync(shared("storage/uploads/nested dir"), { recursive: true });
    writeFileSync(shared("storage/uploads/new.txt"), "new\n");
    writeFileSync(shared(".env"), "APP_KEY=changed\n");
    assert.notDeepEqual(files(), before);

    const restored = json<{ id: string; saved: string; swap: string }[]>(
      await ok("--json", "snapshot", "restore", snap.id),
    )[0]!;
    assert.equal(restored.swap, "exchange");
    assert.deepEqual(files(), before, "content, modes, symlinks and directories are back");
    assert.equal(sql(db, "SELECT group_concat(x) FROM t"), "1,2,3");
    assert.equal(readFileSync(path.join(fx.deployPath, "current/.env"), "utf8"), "APP_KEY=secret\n");
    const history = json<{ event: string; reason: string }[]>(await ok("--json", "history"));
    assert.match(history.at(-1)!.reason, new RegExp(`restored from snapshot ${snap.id}.*${restored.saved}`));
    assert.equal(history.at(-1)!.event, "restore-shared");
    // The replaced shared/ was kept as a snapshot: the restore can be undone.
    assert.equal(readFileSync(snaps(restored.saved, "shared/.env"), "utf8"), "APP_KEY=changed\n");
  } finally {
    await writer.close();
  }
});

test("unchanged files share inodes with the previous snapshot, never with shared/ (in-place writes stay out)", async () => {
  writeFileSync(shared("storage/uploads/new.txt"), "before a\n");
  const a = await create();
  writeFileSync(shared("storage/uploads/new.txt"), "changed after a\n");
  const b = await create();
  const ino = (p: string) => statSync(p).ino;
  assert.equal(ino(snaps(a.id, "shared/.env")), ino(snaps(b.id, "shared/.env")));
  assert.equal(
    ino(snaps(a.id, "shared/storage/uploads/run.sh")),
    ino(snaps(b.id, "shared/storage/uploads/run.sh")),
  );
  assert.notEqual(
    ino(snaps(a.id, "shared/storage/uploads/new.txt")),
    ino(snaps(b.id, "shared/storage/uploads/new.txt")),
  );
  const live = new Set<number>();
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(path.join(d, e.name)) : e.isFile() ? [path.join(d, e.name)] : [],
    );
  for (const f of walk(shared())) live.add(ino(f));
  for (const f of walk(snaps(b.id, "shared")))
    assert.ok(!live.has(ino(f)), `${f} shares an inode with shared/`);
  // The app writes a file in place (same inode): the snapshots keep what they saw.
  const fd = openSync(shared(".env"), "r+");
  writeSync(fd, "XXX", 0);
  closeSync(fd);
  assert.equal(readFileSync(snaps(b.id, "shared/.env"), "utf8"), "APP_KEY=secret\n");
});

test("before_deploy: each deploy snapshots shared/ first; rollback --restore-shared puts back what that deploy's era changed", async () => {
  writeFileSync(shared(".env"), "APP_KEY=era-1\n");
  const first = json<{ release: string }>(await ok("--json", "deploy")).release;
  fx.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
  const second = json<{ release: string }>(await ok("--json", "deploy")).release;
  writeFileSync(shared(".env"), "APP_KEY=era-2\n");
  const list = json<{ id: string; meta: { reason: string; release: string; live: string } }[]>(
    await ok("--json", "snapshot", "list"),
  );
  const taken = list.find((s) => s.meta.release === second)!;
  assert.equal(taken.meta.reason, "before-deploy");
  assert.equal(taken.meta.live, first);
  assert.ok(
    list.filter((s) => s.meta.reason !== "before-restore").length <= 3 + 1,
    "keep: 3 (+ before-restore ones)",
  );
  assert.match(
    (await ok("--dry-run", "deploy")).stdout,
    /== snapshot\n[\s\S]*== prepare/,
    "the snapshot phase comes first",
  );
  const dry = await ok("--dry-run", "rollback", "--restore-shared");
  assert.match(dry.stdout, /== restore-shared/);
  assert.equal(readFileSync(shared(".env"), "utf8"), "APP_KEY=era-2\n", "a dry run changes nothing");
  const r = await ok("--json", "rollback", "--restore-shared");
  assert.equal(json<{ release: string }>(r).release, first);
  assert.equal(readFileSync(shared(".env"), "utf8"), "APP_KEY=era-1\n");
  // The snapshot before `first` may be pruned by now or never taken: nothing is switched then.
  const again = await cutover(["rollback", "--restore-shared", "--to", first], fx.app);
  assert.notEqual(again.code, 0);
});

test("without renameat2's exchange (an unknown machine), restore falls back to two renames back to back", async () => {
  const snap = await create();
  writeFileSync(shared(".env"), "APP_KEY=fallback\n");
  const bin = path.join(fx.dir, "odd-machine");
  mkdirSync(bin, { recursive: true });
  writeFileSync(path.join(bin, "uname"), "#!/bin/sh\necho mystery-cpu\n", { mode: 0o755 });
  const r = await cutover(["--json", "snapshot", "restore", snap.id], fx.app, {
    PATH: `${bin}:${process.env.PATH}`,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(json<{ swap: string }[]>(r)[0]!.swap, "renames");
  assert.equal(readFileSync(shared(".env"), "utf8"), readFileSync(snaps(snap.id, "shared/.env"), "utf8"));
  assert.deepEqual(
    readdirSync(snaps()).filter((n) => n.startsWith("restore-")),
    [],
    "no work directory is left behind",
  );
});
