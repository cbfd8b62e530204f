import assert from "node:assert/strict";
import { chmodSync, readFileSync, readlinkSync, statSync, utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { listRelease } from "../../src/engine/list-release.js";
import { buildManifest } from "../../src/plan/manifest.js";
import { LocalExecutor } from "../../src/transport/local.js";
import { wrapCommand } from "../helpers/bin.js";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";

/**
 * After a checked delta upload the seal takes the check's listing and lists again only what
 * cutover itself changed since (shared paths made links, writable dirs copied in place, their
 * parents). Its manifest must be exactly the one a full listing of the release gives, whatever the
 * shapes: a shared dir whose parents the source lacks, one inside a source directory, a shared
 * file, a writable dir the source has (copied) and one it lacks (made), a change written inline, a
 * change sent by rsync, a mode-only change. A `find` first in PATH logs how the release was listed
 * and can edit a linked file of the live release in place between the check and the seal (the
 * release being prepared shares that inode), as an app writing its own files would.
 */
const fx = fixture();
after(() => fx.cleanup());
const executor = new LocalExecutor("local", 30);
after(() => executor.close());
const writable = ["bootstrap/cache", "var/sessions"];
fx.writeConfig({
  shared_dirs: ["storage/uploads", "data/deep/files"],
  shared_files: [".env", "config/local.php"],
  writable_dirs: writable,
});
fx.file("config/app.php", "<?php return [];\n");
fx.file("config/local.php", "<?php return ['local' => true];\n");
fx.file("bootstrap/cache/packages.php", "<?php return [];\n");
for (let i = 0; i < 30; i++) fx.file(`src/gen/F${i}.php`, `<?php // ${i}\n`);

/** The manifest cutover recorded for a release, and the one a full listing of it on disk gives. */
async function manifests(id: string): Promise<{ recorded: string; listed: string }> {
  const recorded = readFileSync(path.join(fx.deployPath, ".cutover/releases", `${id}.manifest`), "utf8");
  const dir = path.join(fx.deployPath, "releases", id);
  const listing = await listRelease({ executor, emit: () => undefined }, "list", dir);
  return { recorded, listed: buildManifest(listing, writable).text };
}

const findLog = path.join(fx.dir, "find.log");
const bin = wrapCommand(
  path.join(fx.dir, "bin"),
  "find",
  `printf '%s\\n' "$*" >> "$FIND_LOG"
case " $* " in
  *" -maxdepth 0 "*) [ -z "$EDIT_LIVE" ] || printf 'X' | dd of="$EDIT_LIVE" conv=notrunc status=none ;;
esac`,
);

/** Full walks of a release (the check's listing, or a whole seal's): \`find . -mindepth 1\`. */
const fullWalks = () =>
  readFileSync(findLog, "utf8")
    .split("\n")
    .filter((l) => l.startsWith(". -mindepth 1 ")).length;

async function deploy(editLive = ""): Promise<{ release: string; filesTransferred: number }> {
  writeFileSync(findLog, "");
  const r = await cutover(["--json", "deploy"], fx.app, {
    PATH: `${bin}:${process.env.PATH}`,
    FIND_LOG: findLog,
    EDIT_LIVE: editLive,
  });
  assert.equal(r.code, 0, r.stderr);
  return json(r);
}

test("first deploy (no delta): the recorded manifest is the full listing's", async () => {
  const { release } = await deploy();
  const m = await manifests(release);
  assert.equal(m.recorded, m.listed);
});

test("a small change written inline and a mode-only change: the same manifest as a full listing", async () => {
  fx.file("src/gen/F1.php", "<?php // one edit\n");
  chmodSync(path.join(fx.app, "src/gen/F2.php"), 0o755);
  const { release, filesTransferred } = await deploy();
  // And the writable dir's file: manifests leave out what is below writable dirs, so it is never linked.
  assert.equal(filesTransferred, 3);
  assert.equal(fullWalks(), 1, "only the check walked the release");
  const m = await manifests(release);
  assert.ok(m.recorded.includes('"data/deep/files" l '), "the nested shared dir is a link in the manifest");
  assert.ok(m.recorded.includes('"var/sessions" d '), "the made writable dir is in the manifest");
  assert.equal(m.recorded, m.listed);
});

test("a change too large to write inline (rsync sends it): the same manifest as a full listing", async () => {
  for (let i = 0; i < 30; i++) fx.file(`src/gen/F${i}.php`, `<?php // second edit ${i}\n`);
  fx.file("src/new/Added.php", "<?php // new\n");
  writeFileSync(path.join(fx.app, "bootstrap/cache/packages.php"), "<?php return ['changed'];\n");
  const { release, filesTransferred } = await deploy();
  assert.ok(filesTransferred >= 31, `sent ${filesTransferred}`);
  assert.equal(fullWalks(), 1, "only the check walked the release");
  const m = await manifests(release);
  assert.equal(m.recorded, m.listed);
  const verified = await cutover(["verify"], fx.app);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
});

test("a linked file edited in the live release between the check and the seal: recorded as it is", async () => {
  const live = path.join(fx.deployPath, readlinkSync(path.join(fx.deployPath, "current")));
  const edited = path.join(live, "src/gen/F5.php");
  const ino = statSync(edited).ino;
  fx.file("src/gen/F6.php", "<?php // a small change\n");
  const { release } = await deploy(edited);
  assert.equal(statSync(path.join(fx.deployPath, "releases", release, "src/gen/F5.php")).ino, ino);
  assert.equal(fullWalks(), 2, "the edit sent the seal to a full listing");
  const m = await manifests(release);
  assert.equal(m.recorded, m.listed);
  // The next deploy sends the source's content again: the manifest no longer promises it.
  const next = await deploy();
  assert.equal(
    readFileSync(path.join(fx.deployPath, "releases", next.release, "src/gen/F5.php"), "utf8"),
    readFileSync(path.join(fx.app, "src/gen/F5.php"), "utf8"),
  );
});

test("a source mtime in the future, and the live copy edited in place with that mtime put back: recorded as it is", async () => {
  const future = new Date(Date.now() + 86_400_000);
  utimesSync(path.join(fx.app, "src/gen/F8.php"), future, future);
  const first = await deploy();
  const copy = path.join(fx.deployPath, "releases", first.release, "src/gen/F8.php");
  writeFileSync(copy, readFileSync(copy, "utf8").replace("<?php", "<?PHP"));
  utimesSync(copy, future, future);
  fx.file("src/gen/F9.php", "<?php // another small change\n");
  const { release } = await deploy();
  assert.equal(
    statSync(path.join(fx.deployPath, "releases", release, "src/gen/F8.php")).ino,
    statSync(copy).ino,
  );
  const m = await manifests(release);
  assert.equal(m.recorded, m.listed);
});
