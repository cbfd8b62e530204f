import assert from "node:assert/strict";
import { readlinkSync, realpathSync, renameSync, symlinkSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { assertCurrentComplete } from "../helpers/tree.js";

/**
 * A `current` whose link text is not UTF-8 (an absolute link made by another tool through a
 * Latin-1 name): what a switch back puts there must still resolve to the release it did.
 */
const fx = fixture("link bytes");
after(() => fx.cleanup());

test("a switch back restores a current whose link text is not UTF-8 to the same release, never a dangling link", async () => {
  const first = await cutover(["deploy", "-q"], fx.app);
  assert.equal(first.code, 0, first.stderr);
  const cur = path.join(fx.deployPath, "current");
  const id = path.basename(realpathSync(cur));
  // "café" in Latin-1: one byte 0xE9, which no UTF-8 decoding gives back.
  const alias = Buffer.concat([Buffer.from(`${fx.dir}/caf`), Buffer.from([0xe9])]);
  symlinkSync(fx.deployPath, alias);
  symlinkSync(Buffer.concat([alias, Buffer.from(`/releases/${id}`)]), `${cur}.new`);
  renameSync(`${cur}.new`, cur);
  fx.writeConfig({ health_check: { command: "false", retries: 1, interval: 0 } });
  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /health check failed/);
  // Before, the link text came back with U+FFFD for the byte: current dangled.
  assert.equal(path.basename(realpathSync(cur)), id, `current: ${readlinkSync(cur)}`);
  assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
});
