import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { readConfigFiles } from "../../src/integrations/web/config-probe.js";

/**
 * doctor follows includes wherever they lead on the host: an include of a directory of large
 * files (logs, a backup left in conf.d) must not pour gigabytes into cutover, whose output
 * would pass V8's longest string (an internal error) long before memory ran out.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), "cutover-webread-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("reading the files an include names stops at a bounded total size", () => {
  const big = path.join(dir, "conf.d");
  mkdirSync(big);
  const mib = `${"x".repeat(1023)}\n`.repeat(1024);
  for (let i = 0; i < 40; i++) writeFileSync(path.join(big, `${String(i).padStart(2, "0")}.conf`), mib);
  const { argv } = readConfigFiles([big]);
  const run = spawnSync(argv[0]!, argv.slice(1), { maxBuffer: 1 << 30 });
  assert.equal(run.status, 0);
  assert.ok(run.stdout.length <= 33 * 1024 * 1024, `${run.stdout.length >> 20} MiB of output`);
  assert.match(run.stdout.subarray(0, 200).toString(), /^@@file .*\/00\.conf\n/);
});
