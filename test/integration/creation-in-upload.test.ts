import assert from "node:assert/strict";
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { wrapCommand } from "../helpers/bin.js";
import { type CliResult, cutover } from "../helpers/cli.js";
import { callsIn, runCounted, stepEnded } from "../helpers/counting.js";
import { fixture } from "../helpers/fixture.js";
import { ownCaches } from "../helpers/scratch.js";

/**
 * Before a delta upload, the step that makes the release directory runs in the upload's first
 * round trip (engine/delta-upload.ts). Counted on a real local target through a wrapping executor;
 * and a creation that fails there is reported as that step's failure, never taken for a failed
 * build (whose fallback would empty the directory and upload into it).
 */
ownCaches();
const fx = fixture();
after(() => fx.cleanup());
for (let i = 0; i < 20; i++) fx.file(`src/F${i}.php`, `<?php // ${i}\n`);

/** Round trips to the host until its step `step` ended, and whether that step was reported. */
async function deployCounting(step: string): Promise<{ calls: number; reported: string[] }> {
  const { log } = await runCounted(fx.app);
  const ended = stepEnded(log, "local", step);
  assert.ok(ended > 0, `${step} ended`);
  const reported = log.flatMap((e) =>
    e.kind === "event" && e.event.type === "step" && e.event.status === "ok" ? [e.event.step] : [],
  );
  return { calls: callsIn(log, "local", 0, ended), reported };
}

test("a delta upload makes the release directory in its own round trip: reading the host, then one", async () => {
  fx.writeConfig({});
  const first = await deployCounting("upload files");
  // Negative control: without a previous release (no delta) the creation is a round trip of its own.
  assert.ok(first.reported.includes("create release directory"));
  assert.equal(first.calls, 3, "read the host, create the release directory, upload (rsync)");
  fx.file("src/F1.php", "<?php // changed\n");
  const second = await deployCounting("upload files");
  assert.equal(second.calls, 2, "read the host, then create, link, write and check in one round trip");
  assert.ok(!second.reported.includes("create release directory"));
  const current = readlinkSync(path.join(fx.deployPath, "current"));
  assert.ok(existsSync(path.join(fx.deployPath, current, "src/F1.php")));
});

/**
 * A deploy whose `mkdir -- DEPLOY_PATH/releases/ID` (the creation's last command) first runs
 * `onRelease` (sh; the release's path is "$2"); it must fail, and `current` must not move.
 */
async function deployWhileMakingRelease(name: string, onRelease: string, change: string): Promise<CliResult> {
  fx.writeConfig({});
  const before = readlinkSync(path.join(fx.deployPath, "current"));
  const bin = wrapCommand(
    path.join(fx.dir, `bin-mkdir-${name}`),
    "mkdir",
    `case "$1 $2" in "-- "*/releases/*)\n${onRelease} ;; esac`,
  );
  fx.file(change, "<?php // changed\n");
  const r = await cutover(["deploy"], fx.app, { PATH: `${bin}:${process.env.PATH}` });
  assert.notEqual(r.code, 0);
  assert.equal(readlinkSync(path.join(fx.deployPath, "current")), before);
  return r;
}

test("the creation fails in the upload's round trip: that step's failure, no fallback, nothing switched", async () => {
  await cutover(["deploy"], fx.app);
  const releases = readdirSync(path.join(fx.deployPath, "releases"));
  // It fails as on a full disk.
  const r = await deployWhileMakingRelease(
    "full",
    `echo "mkdir: cannot create directory '$2': No space left on device" >&2; exit 1`,
    "src/F2.php",
  );
  assert.match(r.stderr, /create release directory failed/);
  assert.match(r.stderr, /No space left on device/);
  assert.doesNotMatch(r.stderr, /uploading every file|empty the new release/);
  assert.deepEqual(readdirSync(path.join(fx.deployPath, "releases")), releases);
});

test("the release directory appears meanwhile, made by someone else: the deploy fails and leaves it alone", async () => {
  // The directory is there already, with a file of its own.
  const r = await deployWhileMakingRelease(
    "taken",
    `/bin/mkdir -- "$2" && echo theirs > "$2/theirs.txt"`,
    "src/F3.php",
  );
  assert.match(r.stderr, /create release directory failed/);
  const taken = readdirSync(path.join(fx.deployPath, "releases"))
    .map((id) => path.join(fx.deployPath, "releases", id, "theirs.txt"))
    .filter((f) => existsSync(f));
  assert.equal(taken.length, 1, "the directory someone else made is still there, with its file");
});

test("the session is lost in that round trip: the error names every step it held, since any may have been running", async () => {
  // mkdir's parents are the creation's sh, the script's sh, timeout, then the session's sh
  // (checked: nothing else is killed if that changes).
  const r = await deployWhileMakingRelease(
    "lost",
    `p=$PPID; for i in 1 2 3; do p=$(cut -d' ' -f4 /proc/$p/stat); done
  [ "$(cat /proc/$p/comm)" = sh ] && kill -9 "$p"; exit 1`,
    "src/F4.php",
  );
  assert.match(
    r.stderr,
    /create release directory, then upload files, then link shared paths, prepare writable directories, record manifest and checksum failed \(the shell session ended/,
  );
});
