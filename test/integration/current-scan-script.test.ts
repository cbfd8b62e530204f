/**
 * The scan for paths through current, run by a real sh and GNU grep on real files: what it prints
 * when nothing, something, or something and an unreadable file is found (the lines are read only
 * when grep did not say "none").
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { parseScan, scanCmds } from "../../src/integrations/php/current-scan.js";
import { renderScript } from "../../src/shell/cmd.js";
import { scratchDir } from "../helpers/scratch.js";

const needle = "/srv/app/current/";

function scan(dir: string, files?: string[]) {
  const r = spawnSync("sh", ["-c", renderScript(scanCmds(dir, needle, files))], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return parseScan(r.stdout);
}

function release(): string {
  const dir = scratchDir("cutover-scan-");
  mkdirSync(path.join(dir, "src"));
  writeFileSync(path.join(dir, "src/clean.php"), "<?php require __DIR__ . '/x.php';\n");
  return dir;
}

test("nothing found: no lines, findings recorded as none", () => {
  const dir = release();
  assert.deepEqual(scan(dir), { hits: [], files: [] });
  assert.deepEqual(scan(dir, ["./src/clean.php"]), { hits: [], files: [] });
});

test("a file that names current: its lines and its name", () => {
  const dir = release();
  writeFileSync(path.join(dir, "src/bad.php"), `<?php\nrequire '${needle}vendor/autoload.php';\n`);
  const expected = {
    hits: [`src/bad.php:2:require '${needle}vendor/autoload.php';`],
    files: ["src/bad.php"],
  };
  assert.deepEqual(scan(dir), expected);
  assert.deepEqual(scan(dir, ["./src/clean.php", "./src/bad.php"]), expected);
});

test("a file that names current beside one that cannot be read: its lines, findings not recorded", () => {
  const dir = release();
  writeFileSync(path.join(dir, "src/bad.php"), `<?php require '${needle}x.php';\n`);
  symlinkSync("gone.php", path.join(dir, "src/dangling.php"));
  assert.deepEqual(scan(dir, ["./src/bad.php", "./src/dangling.php"]), {
    hits: [`src/bad.php:1:<?php require '${needle}x.php';`],
    files: undefined,
  });
});

test("a file whose name holds the output's markers is read as a name", () => {
  const dir = release();
  const text = `<?php require '${needle}x.php';`;
  for (const name of ["x@@status", "@@end", "y@@status\n0"])
    writeFileSync(path.join(dir, "src", name), `${text}\n`);
  const expected = ["src/@@end", "src/x@@status", "src/y@@status\n0"];
  for (const files of [undefined, expected.map((f) => `./${f}`)]) {
    const { hits, files: found } = scan(dir, files);
    assert.deepEqual(found, expected);
    // Lines are shown, not parsed: a name with a newline spans two.
    for (const name of ["src/x@@status", "src/@@end"]) assert.ok(hits.includes(`${name}:1:${text}`), name);
  }
});
