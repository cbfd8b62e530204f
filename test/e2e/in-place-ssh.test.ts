import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { ensureTestUser, type Sshd, type SshRig, sshHost, sshRig } from "../helpers/sshd.js";
import { snapshot } from "../helpers/tree.js";

interface Result {
  release: string;
  hosts: { host: string; serving: string | null; mixedWindow?: { ms: number; files: number } | null }[];
}

let rig: SshRig;
let sshd: Sshd;
const fx = fixture();
const env = { XDG_CACHE_HOME: path.join(fx.dir, "cache") };
const live = path.join(fx.deployPath, "current");
/** The live tree without what the upload never touches. */
const code = () =>
  new Map(
    [...snapshot(live)].filter(
      ([p]) => p !== ".env" && !p.startsWith("storage/") && !p.startsWith("bootstrap"),
    ),
  );

before(async () => {
  rig = sshRig();
  sshd = await rig.start();
  fx.writeConfig({ strategy: "in-place" }, [sshHost(rig, sshd, fx.deployPath, { name: "web1" })]);
});
after(async () => {
  await rig.stopAll();
  fx.cleanup();
});

test("over SSH: in-place deploy, a second one with its window, and a rollback to the first build byte for byte", async () => {
  let r = await cutover(["--json", "deploy"], fx.app, env);
  assert.equal(r.code, 0, r.stderr);
  const first = json<Result>(r).release;
  assert.ok(lstatSync(live).isDirectory() && !lstatSync(live).isSymbolicLink());
  const v1 = code();

  writeFileSync(path.join(fx.deployPath, "shared/storage/uploads/by-app.txt"), "written by the app\n");
  const sharedBefore = snapshot(path.join(fx.deployPath, "shared"));
  fx.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
  fx.file("src/extra.php", "<?php // v2 only\n");
  r = await cutover(["--json", "deploy"], fx.app, env);
  assert.equal(r.code, 0, r.stderr);
  const second = json<Result>(r);
  assert.equal(second.hosts[0]!.serving, second.release);
  assert.ok((second.hosts[0]!.mixedWindow?.files ?? 0) >= 2, JSON.stringify(second.hosts[0]));
  assert.notDeepEqual(code(), v1);

  r = await cutover(["--json", "rollback"], fx.app, env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(json<Result>(r).release, first);
  assert.deepEqual(code(), v1, "the first build, exactly");
  assert.deepEqual(snapshot(path.join(fx.deployPath, "shared")), sharedBefore, "shared/ untouched");
  const metas = readdirSync(path.join(fx.deployPath, ".cutover/releases")).sort();
  assert.deepEqual(metas, [`${first}.json`, `${second.release}.json`].sort());
  const rows = json<{ id: string; hosts: Record<string, { state: string; live: boolean }> }[]>(
    await cutover(["--json", "releases"], fx.app, env),
  );
  assert.deepEqual(
    rows.map((row) => [row.id, row.hosts.web1!.state, row.hosts.web1!.live]),
    [
      [second.release, "rolled-back", false],
      [first, "live", true],
    ],
  );
});

test("over SSH as a plain user: a directory the app keeps to itself in a writable dir does not undo the deploy", async () => {
  const other = fixture();
  try {
    chmodSync(other.dir, 0o755);
    mkdirSync(other.deployPath);
    const user = ensureTestUser("cutovertest");
    execFileSync("chown", [user, other.deployPath]);
    const otherEnv = { XDG_CACHE_HOME: path.join(other.dir, "cache") };
    other.writeConfig({ strategy: "in-place" }, [
      sshHost(rig, sshd, other.deployPath, { name: "web1", user }),
    ]);
    let r = await cutover(["--json", "deploy"], other.app, otherEnv);
    assert.equal(r.code, 0, r.stderr);
    // The app (another user) keeps its sessions where the deploying login cannot look.
    const sessions = path.join(other.deployPath, "current/bootstrap/cache/sessions");
    mkdirSync(sessions, { mode: 0o700 });
    writeFileSync(path.join(sessions, "sess_1"), "a visitor's session\n");

    other.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
    r = await cutover(["--json", "deploy"], other.app, otherEnv);
    assert.equal(r.code, 0, r.stderr);
    const second = json<Result>(r);
    assert.equal(second.hosts[0]!.serving, second.release);
    assert.equal(
      readFileSync(path.join(other.deployPath, "current/src/lib.php"), "utf8"),
      "<?php function version() { return 'v2'; }\n",
    );
    assert.equal(readFileSync(path.join(sessions, "sess_1"), "utf8"), "a visitor's session\n");
  } finally {
    other.cleanup();
  }
});

test("over SSH as a plain user: a directory the app keeps to itself under an excluded path does not undo the deploy", async () => {
  const other = fixture();
  try {
    chmodSync(other.dir, 0o755);
    mkdirSync(other.deployPath);
    const user = ensureTestUser("cutovertest");
    execFileSync("chown", [user, other.deployPath]);
    const otherEnv = { XDG_CACHE_HOME: path.join(other.dir, "cache") };
    // exclude: keeps the upload out of var/cache, where the app writes at run time.
    other.writeConfig({ strategy: "in-place", exclude: [".git", "cutover.yaml", "/var/cache"] }, [
      sshHost(rig, sshd, other.deployPath, { name: "web1", user }),
    ]);
    other.file("var/.gitkeep", "");
    let r = await cutover(["--json", "deploy"], other.app, otherEnv);
    assert.equal(r.code, 0, r.stderr);
    const cache = path.join(other.deployPath, "current/var/cache");
    mkdirSync(cache, { mode: 0o700 });
    writeFileSync(path.join(cache, "compiled.php"), "the app's\n");

    other.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
    r = await cutover(["--json", "deploy"], other.app, otherEnv);
    assert.equal(r.code, 0, r.stderr);
    const second = json<Result>(r);
    assert.equal(second.hosts[0]!.serving, second.release);
    assert.ok((second.hosts[0]!.mixedWindow?.files ?? 0) >= 1, JSON.stringify(second.hosts[0]));
    assert.equal(readFileSync(path.join(cache, "compiled.php"), "utf8"), "the app's\n");
  } finally {
    other.cleanup();
  }
});
