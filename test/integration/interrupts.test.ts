import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { fakeBin } from "../helpers/bin.js";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { interruptWhen, settled } from "../helpers/interrupt.js";
import { INTERRUPT_CASES, runInterruptCase } from "../helpers/interrupt-cases.js";
import { assertCurrentComplete } from "../helpers/tree.js";

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

test("SIGTERM during cleanup's removal: the rm is stopped, lock released, history says aborted", async () => {
  fx.writeConfig({ keep_releases: 1 });
  for (let i = 0; i < 3; i++) assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  fx.writeConfig({ keep_releases: 5 });
  for (let i = 0; i < 2; i++) assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  fx.writeConfig({ keep_releases: 1 });
  const marker = "59.7531";
  // An rm that takes its time on releases (and only there), so the signal lands mid-removal.
  const bin = fakeBin(path.join(fx.dir, "slow-rm-bin"), ["rm"], {
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
  assert.ok(readdirSync(path.join(fx.deployPath, "releases")).length >= 2);
  fx.writeConfig();
});
