import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { fakeBin } from "../helpers/bin.js";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { interruptWhen, settled } from "../helpers/interrupt.js";
import { INTERRUPT_CASES, runInterruptCase } from "../helpers/interrupt-cases.js";
import { assertCurrentComplete, trashEmptied } from "../helpers/tree.js";

/** SIGTERM in every phase that runs something on the host, on a local target. */
const fx = fixture();
after(() => fx.cleanup());

for (const [i, c] of INTERRUPT_CASES.entries()) {
  test(`SIGTERM during ${c.name}: the step's process group is gone, lock released, history written`, async () => {
    const marker = `${50 + i}.${process.pid % 1000}${i}`;
    await runInterruptCase(fx, c, marker, [{ path: fx.deployPath }], [fx.deployPath]);
    assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
  });
}

/**
 * Five releases, keep_releases 1: the cleanup removes three. An rm that takes its time on
 * releases/2… paths (and only there): a release directory removed in place, or a release's metadata.
 */
async function interruptedCleanup(marker: string): Promise<{ before: number; after: number }> {
  fx.writeConfig({ keep_releases: 1 });
  for (let i = 0; i < 3; i++) assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  fx.writeConfig({ keep_releases: 5 });
  for (let i = 0; i < 2; i++) assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  fx.writeConfig({ keep_releases: 1 });
  const count = () => readdirSync(path.join(fx.deployPath, "releases")).length;
  const before = count();
  const bin = fakeBin(path.join(fx.dir, `slow-rm-${marker}`), ["rm"], {
    rm: `case "$*" in *releases/2*) sleep ${marker} ;; esac\nexec /bin/rm "$@"`,
  });
  const r = await interruptWhen(["cleanup"], fx.app, marker, "SIGTERM", { PATH: bin });
  assert.ok(r.sent, r.stderr);
  assert.equal(r.code, 130, r.stderr);
  assert.deepEqual(await settled(marker), []);
  assert.ok(!existsSync(path.join(fx.deployPath, ".cutover/lock")));
  const last = readFileSync(path.join(fx.deployPath, ".cutover/history.jsonl"), "utf8")
    .trim()
    .split("\n")
    .at(-1)!;
  assert.match(last, /"event":"cleanup","outcome":"aborted"/);
  assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
  return { before, after: count() };
}

test("SIGTERM during cleanup's removal in place: the rm is stopped, lock released, history says aborted", async () => {
  // A file where the trash would be: releases are removed where they are, waited for.
  const trash = path.join(fx.deployPath, ".cutover/trash");
  rmSync(trash, { recursive: true, force: true });
  mkdirSync(path.dirname(trash), { recursive: true });
  writeFileSync(trash, "not a directory\n");
  const { before, after } = await interruptedCleanup("59.7531");
  assert.equal(after, before, "stopped in the first release's rm -rf");
  rmSync(trash);
  fx.writeConfig();
});

test("SIGTERM while a release renamed into the trash loses its metadata: the next cleanup removes both", async () => {
  const { before, after } = await interruptedCleanup("59.8642");
  assert.equal(after, before - 1, "the first release renamed away");
  const trash = path.join(fx.deployPath, ".cutover/trash");
  const left = readdirSync(trash);
  assert.equal(left.length, 1, "renamed into the trash, the removal not started");
  const meta = path.join(fx.deployPath, ".cutover/releases", `${left[0]}.json`);
  assert.ok(existsSync(meta), "its metadata was being removed when the signal came");
  assert.equal((await cutover(["cleanup", "-q"], fx.app)).code, 0);
  assert.ok(!existsSync(meta));
  await trashEmptied(fx.deployPath);
  assert.deepEqual(readdirSync(trash), []);
  assert.equal(readdirSync(path.join(fx.deployPath, "releases")).length, 2);
  fx.writeConfig();
});

test("SIGTERM in the switch step after its rename (in its sync): current is switched back, exit 130", async () => {
  fx.writeConfig();
  assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  const live = () => readlinkSync(path.join(fx.deployPath, "current"));
  const before = live();
  const marker = `58.${process.pid % 1000}7`;
  const flag = path.join(fx.dir, `sync-held-${marker}`);
  // The switch's `sync -- DEPLOY_PATH` runs after its rename: held there (once) until the signal.
  const bin = fakeBin(path.join(fx.dir, `slow-sync-${marker}`), ["sync"], {
    sync: `if [ "$*" = "-- $HOLD_ROOT" ] && [ ! -e "$HOLD_FLAG" ]; then : > "$HOLD_FLAG"; sleep ${marker}; fi\nexec /bin/sync "$@"`,
  });
  const env = { PATH: bin, HOLD_ROOT: fx.deployPath, HOLD_FLAG: flag };
  const r = await interruptWhen(["deploy"], fx.app, marker, "SIGTERM", env);
  assert.ok(r.sent, r.stderr);
  assert.equal(r.code, 130, r.stderr);
  assert.deepEqual(await settled(marker), []);
  assert.equal(live(), before, `current was left on the new release:\n${r.stderr}`);
  assert.ok(!existsSync(path.join(fx.deployPath, ".cutover/lock")));
  assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
});
