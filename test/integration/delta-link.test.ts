import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { type DeltaDecision, linkCmds } from "../../src/plan/delta.js";
import { renderScript } from "../../src/shell/cmd.js";

/** The delta's directories and links, made in two halves on a real shell: both must succeed. */
const work = mkdtempSync(path.join(os.tmpdir(), "cutover-link-"));
after(() => rmSync(work, { recursive: true, force: true }));
const prev = path.join(work, "prev rel");
for (const f of ["d/a", "d/b", "e/-c", "e/ü d"]) {
  mkdirSync(path.dirname(path.join(prev, f)), { recursive: true });
  writeFileSync(path.join(prev, f), f);
}

/** Runs the commands into a new empty release; the exit status of the first that fails, or 0. */
function link(name: string, files: string[]): number {
  const next = path.join(work, name);
  mkdirSync(next);
  const decision = {
    dirs: ["d", "e"].map((p) => ({ path: p, mode: "755" })),
    link: files,
  } as unknown as DeltaDecision;
  for (const c of linkCmds(prev, next, decision)) {
    const r = spawnSync(c.argv[0]!, c.argv.slice(1), { encoding: "utf8" });
    if (r.status !== 0) return r.status ?? -1;
  }
  return 0;
}

test("every name is linked, whichever half it is in", () => {
  const files = ["d/a", "d/b", "e/-c", "e/ü d"];
  assert.equal(link("ok", files), 0);
  for (const f of files)
    assert.equal(statSync(path.join(work, "ok", f)).ino, statSync(path.join(prev, f)).ino, f);
});

test("a name that cannot be linked fails the script, in the first half or in the second", () => {
  assert.notEqual(link("first", ["d/missing", "d/a", "d/b", "e/-c"]), 0);
  assert.notEqual(link("second", ["d/a", "d/b", "e/-c", "d/missing"]), 0);
});

test("thousands of names in one step's script, as a session runs it: every file linked, by xargs in commands that fit", () => {
  const many = path.join(work, "many prev");
  const dirs = Array.from({ length: 60 }, (_, i) => `dir ${i} ${"ü".repeat(20)}`);
  const files = dirs.flatMap((d) =>
    Array.from({ length: 300 }, (_, j) => `${d}/file ${j} ${"x".repeat(120)}.php`),
  );
  for (const d of dirs) mkdirSync(path.join(many, d), { recursive: true });
  for (const f of files) writeFileSync(path.join(many, f), f);
  const next = path.join(work, "many next");
  mkdirSync(next);
  const cmds = linkCmds(many, next, {
    dirs: dirs.map((p) => ({ path: p, mode: "755" })),
    link: files,
    send: [],
    foreignOwners: false,
  });
  const script = path.join(work, "step.sh");
  writeFileSync(script, renderScript(cmds));
  // More than Linux takes in one exec's arguments (2 MiB with the usual 8 MiB stack).
  assert.ok(statSync(script).size > 2.2 * 1024 * 1024, "more than one exec's arguments");
  const r = spawnSync("sh", [script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  for (const f of files) assert.equal(statSync(path.join(next, f)).ino, statSync(path.join(many, f)).ino, f);
});
