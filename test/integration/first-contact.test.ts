import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { cutover } from "../helpers/cli.js";

// What a newcomer meets on first contact: every error is one line (no stack), says where, and what to do.
const dir = mkdtempSync(path.join(os.tmpdir(), "cutover first contact ü "));
after(() => rmSync(dir, { recursive: true, force: true }));

test("init -c into a directory that does not exist: a one-line error naming it, exit 2, no stack", async () => {
  const file = path.join(dir, "no such dir", "cutover.yaml");
  const r = await cutover(["init", "-c", file], dir);
  assert.equal(r.code, 2, r.stderr);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assert.match(r.stderr.split("\n")[0]!, /^error: .*no such dir/);
  assert.match(r.stderr, /fix: /);
  assert.equal(existsSync(file), false);
});
