import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { wrapCommand } from "../helpers/bin.js";
import { cutover } from "../helpers/cli.js";
import { runCounted, scriptsDuring } from "../helpers/counting.js";
import { fixture } from "../helpers/fixture.js";
import { ownCaches } from "../helpers/scratch.js";

/**
 * After a delta upload with only cutover's own steps before the seal (the shared links, the
 * writable dirs), those steps and the seal's listing run in the upload's round trip, right after
 * its check (engine/delta-build.ts): one round trip fewer. A failure there is theirs, never taken
 * for a failed build; a check that fails after them empties the release as before (the shared
 * links are made again: engine/delta-upload.ts, tested in delta-upload.test.ts).
 */
ownCaches();
const fx = fixture();
after(() => fx.cleanup());
for (let i = 0; i < 20; i++) fx.file(`src/F${i}.php`, `<?php // ${i}\n`);
const current = () => readlinkSync(path.join(fx.deployPath, "current"));

test("the seal makes no round trip of its own after an inline or an rsync delta upload", async () => {
  fx.writeConfig({});
  const first = await runCounted(fx.app);
  // Negative control: a first deploy (no delta) lists the release in the seal's own round trips.
  assert.ok(scriptsDuring(first.log, "local", "record manifest and checksum").length >= 1);
  fx.file("src/F1.php", "<?php // changed\n");
  const inline = await runCounted(fx.app);
  assert.equal(scriptsDuring(inline.log, "local", "upload files").length, 1, "one round trip, inline");
  assert.deepEqual(scriptsDuring(inline.log, "local", "record manifest and checksum"), []);
  for (let i = 0; i < 20; i++) fx.file(`src/F${i}.php`, `<?php // changed ${i}\n`);
  const sent = await runCounted(fx.app);
  // Linking, rsync, then the check with the seal's commands.
  assert.equal(scriptsDuring(sent.log, "local", "upload files").length, 3, "rsync delta");
  assert.deepEqual(scriptsDuring(sent.log, "local", "record manifest and checksum"), []);
  const verify = await cutover(["verify"], fx.app);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.equal(lstatSync(path.join(fx.deployPath, current(), ".env")).isSymbolicLink(), true);
  assert.equal(lstatSync(path.join(fx.deployPath, current(), "bootstrap/cache")).isDirectory(), true);
});

test("cutover's own step fails in the upload's round trip: reported as that step, no fallback, nothing switched", async () => {
  fx.writeConfig({});
  await cutover(["deploy"], fx.app);
  const before = current();
  // A writable dir that is a link in the source: the check passes (the release is the source), the
  // writable dirs' step refuses it.
  mkdirSync(path.join(fx.app, "bootstrap"), { recursive: true });
  mkdirSync(path.join(fx.app, "var/cache"), { recursive: true });
  symlinkSync("../var/cache", path.join(fx.app, "bootstrap/cache"));
  try {
    const r = await cutover(["deploy"], fx.app);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /link shared paths, prepare writable directories, record manifest and checksum failed/,
    );
    assert.match(r.stderr, /bootstrap\/cache is a symlink/);
    assert.doesNotMatch(r.stderr, /uploading every file|empty the new release/);
    assert.equal(current(), before);
  } finally {
    rmSync(path.join(fx.app, "bootstrap"), { recursive: true });
    rmSync(path.join(fx.app, "var"), { recursive: true });
  }
});

test("the session is lost in the check's round trip after rsync: the error names the upload and the steps after it", async () => {
  fx.writeConfig({});
  await cutover(["deploy"], fx.app);
  const before = current();
  // The check's `find . -mindepth 1` kills the session's sh: its parents are the check's sh, the
  // script's sh, timeout, then the session's sh (checked: nothing else is killed if that changes).
  const bin = wrapCommand(
    path.join(fx.dir, "bin-find-lost"),
    "find",
    `case "$*" in ". -mindepth 1 -printf "*)
  p=$PPID; for i in 1 2 3; do p=$(cut -d' ' -f4 /proc/$p/stat); done
  [ "$(cat /proc/$p/comm)" = sh ] && kill -9 "$p"; exit 1 ;; esac`,
  );
  for (let i = 0; i < 20; i++) fx.file(`src/F${i}.php`, `<?php // lost ${i}\n`);
  const r = await cutover(["deploy"], fx.app, { PATH: `${bin}:${process.env.PATH}` });
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /: upload files, then link shared paths, prepare writable directories, record manifest and checksum failed \(the shell session ended/,
  );
  assert.equal(current(), before);
});

/**
 * 20 source files changed, and src/F3.php turned into something else by `turn` (sh, given its
 * path) right before rsync sends them; `deploy` gets the environment that puts that rsync first.
 */
async function withRsyncRace(
  name: string,
  turn: string,
  deploy: (env: Record<string, string>) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < 20; i++) fx.file(`src/F${i}.php`, `<?php // ${name} ${i}\n`);
  const raced = path.join(fx.app, "src/F3.php");
  const bin = wrapCommand(
    path.join(fx.dir, `bin-rsync-${name}`),
    "rsync",
    `case "$*" in *--files-from=*) rm -f "$RACED" && ${turn} "$RACED" ;; esac`,
  );
  try {
    await deploy({ PATH: `${bin}:${process.env.PATH}`, RACED: raced });
  } finally {
    rmSync(raced, { force: true });
    fx.file("src/F3.php", "<?php // 3\n");
  }
}

test("the source changes between the index and rsync, failing the steps run after the check too: the check's fallback, as before", async () => {
  fx.writeConfig({});
  await cutover(["deploy"], fx.app);
  // A sent file becomes a dangling link right before rsync: the check sees a link, not the file;
  // sha256sum, run after it for the seal, cannot read it.
  await withRsyncRace("link", "ln -s /nonexistent/cutover", async (env) => {
    const r = await cutover(["deploy"], fx.app, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /src\/F3\.php: is a l, not a f\); uploading every file, linking none/);
    assert.equal(readlinkSync(path.join(fx.deployPath, current(), "src/F3.php")), "/nonexistent/cutover");
    assert.equal(lstatSync(path.join(fx.deployPath, current(), ".env")).isSymbolicLink(), true);
    const verify = await cutover(["verify"], fx.app);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });
});

test("a fifo where a file was, sent by rsync or linked from a tampered previous release: nothing run after the check waits on it", async () => {
  // Negative control for both: without the guard in HASH (plan/manifest.ts) and -D skip in the
  // scan (integrations/php/current-scan.ts), sha256sum and grep wait on the fifo until the timeout.
  fx.writeConfig({ command_timeout: 20 });
  fx.file("src/boot.php", `<?php require '${fx.deployPath}/current/vendor/autoload.php';\n`);
  const first = await cutover(["deploy"], fx.app);
  assert.equal(first.code, 0, first.stderr);
  const timed = async (env: Record<string, string> = {}) => {
    const started = Date.now();
    const r = await cutover(["deploy"], fx.app, env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - started < 15_000, `waited: ${r.stderr}`);
    assert.match(r.stderr, /uploading every file, linking none/);
  };
  // The source's file made a fifo right before rsync sends it.
  await withRsyncRace("fifo", "mkfifo", timed);
  await cutover(["deploy"], fx.app);
  // The live release's file that its scan found, made a fifo: linked into the next release, whose
  // scan reads that file again.
  const live = path.join(fx.deployPath, current(), "src/boot.php");
  rmSync(live);
  execFileSync("mkfifo", [live]);
  fx.file("src/F1.php", "<?php // one more\n");
  await timed();
  rmSync(path.join(fx.app, "src/boot.php"));
});

test("the scan run after an rsync delta's check reads the files rsync sent", async () => {
  fx.writeConfig({});
  await cutover(["deploy"], fx.app);
  for (let i = 0; i < 20; i++) fx.file(`src/F${i}.php`, `<?php // scanned ${i}\n`);
  fx.file("src/F7.php", `<?php require '${fx.deployPath}/current/vendor/autoload.php';\n`);
  const r = await runCounted(fx.app);
  assert.equal(scriptsDuring(r.log, "local", "upload files").length, 3, "rsync delta");
  assert.deepEqual(scriptsDuring(r.log, "local", "record manifest and checksum"), []);
  const warned = r.log.flatMap((e) =>
    e.kind === "event" && e.event.type === "warning" ? [e.event.message] : [],
  );
  assert.ok(
    warned.some((w) => w.includes("current/ in 1 place")),
    warned.join(" | "),
  );
  fx.file("src/F7.php", "<?php // 7\n");
});

test("a source with a fifo: the manifest made after a delta records it as the host lists it, and verify agrees", async () => {
  fx.writeConfig({});
  const pipe = path.join(fx.app, "var/pipe");
  mkdirSync(path.dirname(pipe), { recursive: true });
  execFileSync("mkfifo", [pipe]);
  try {
    await cutover(["deploy"], fx.app);
    fx.file("src/F3.php", "<?php // with a fifo beside\n");
    const r = await runCounted(fx.app);
    // rsync sends the fifo (the index cannot tell it from a device); the seal runs after the check.
    assert.equal(scriptsDuring(r.log, "local", "upload files").length, 3, "rsync delta");
    assert.deepEqual(scriptsDuring(r.log, "local", "record manifest and checksum"), []);
    const id = path.basename(current());
    const manifest = readFileSync(path.join(fx.deployPath, ".cutover/releases", `${id}.manifest`), "utf8");
    assert.match(manifest, /^"var\/pipe" p$/m);
    const verify = await cutover(["verify"], fx.app);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  } finally {
    rmSync(pipe);
  }
});
