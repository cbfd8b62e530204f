import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { createSnapshotIn } from "../helpers/snapshots.js";
import { snapshot as tree } from "../helpers/tree.js";

/** Mount points under `dir`, from /proc/self/mounts (octal escapes decoded). */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((line) =>
      (line.split(" ")[1] ?? "").replace(/\\([0-7]{3})/g, (_, o: string) =>
        String.fromCharCode(Number.parseInt(o, 8)),
      ),
    )
    .filter((m) => m.startsWith(`${dir}/`));
}

test("a file system mounted inside shared/ (uploads on NFS): restore refuses, naming it, and nothing in it or in shared/ is removed", async () => {
  const fx = fixture();
  const mount = path.join(fx.deployPath, "shared/storage/uploads/on nfs");
  try {
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    mkdirSync(mount);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mount]);
    writeFileSync(path.join(mount, "photo.jpg"), "uploaded to the shared mount\n");
    const snap = await createSnapshotIn(fx.app);
    writeFileSync(path.join(mount, "later.jpg"), "uploaded after the snapshot\n");
    const before = tree(path.join(fx.deployPath, "shared"));
    r = await cutover(["snapshot", "restore", snap], fx.app);
    assert.deepEqual(mountsUnder(fx.dir), [mount], "the file system is still mounted in shared/");
    for (const [name, text] of [
      ["photo.jpg", "uploaded to the shared mount\n"],
      ["later.jpg", "uploaded after the snapshot\n"],
    ])
      assert.equal(readFileSync(path.join(mount, name!), "utf8"), text, `${name} is still on it`);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /storage\/uploads\/on nfs is a mount point/);
    assert.deepEqual(tree(path.join(fx.deployPath, "shared")), before, "shared/ unchanged");
  } finally {
    // Wherever a restore may have moved it (with the old tree into .cutover/snapshots).
    for (const m of mountsUnder(fx.dir)) execFileSync("umount", ["-l", m]);
    fx.cleanup();
  }
});

test("a directory bind-mounted inside shared/ from the same file system: restore refuses, and the directory keeps its files", async () => {
  const fx = fixture();
  const source = path.join(fx.dir, "bound uploads");
  const mount = path.join(fx.deployPath, "shared/storage/uploads/bound");
  try {
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    mkdirSync(source);
    mkdirSync(mount);
    writeFileSync(path.join(source, "photo.jpg"), "on the bound directory\n");
    execFileSync("mount", ["--bind", source, mount]);
    const snap = await createSnapshotIn(fx.app);
    r = await cutover(["snapshot", "restore", snap], fx.app);
    assert.deepEqual(mountsUnder(fx.dir), [mount], "still bound in shared/");
    assert.equal(readFileSync(path.join(source, "photo.jpg"), "utf8"), "on the bound directory\n");
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /shared\/storage\/uploads\/bound is a mount point/);
  } finally {
    for (const m of mountsUnder(fx.dir)) execFileSync("umount", ["-l", m]);
    fx.cleanup();
  }
});
