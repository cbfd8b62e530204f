import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { manifestProbe } from "../../src/plan/manifest.js";
import { cpus, wrapCommand } from "../helpers/bin.js";
import { scratchDir } from "../helpers/scratch.js";

/**
 * The listing's hashing of every file (plan/manifest.ts), run as the host runs it under dash and
 * bash: two sha256sum at once for many files and bytes, each file exactly once and right, odd
 * names included; a sha256sum killed in either half, even with a record cut right after "ok",
 * fails the script.
 */
const dir = scratchDir("hash every file ");
const tree = path.join(dir, "release");
const odd = [
  "space name.php",
  "new\nline.txt",
  `quote'"s.txt`,
  "ünï ✓.txt",
  "-z",
  "--",
  "@@end",
  "@@ok",
  "ok",
];
mkdirSync(path.join(tree, "odd"), { recursive: true });
for (const name of odd) writeFileSync(path.join(tree, "odd", name), name);
mkdirSync(path.join(tree, "src"), { recursive: true });
for (let i = 0; i < 600; i++)
  writeFileSync(path.join(tree, "src", `c${i}ok.php`), `${i}${"x".repeat(16_384)}`);
// The same order as the script's own find: its first file of src/ is in the first half, its last in
// the second (src/ holds 600 of the 609 files).
const order = execFileSync("find", [".", "-type", "f", "-print0"], { cwd: tree })
  .toString()
  .split("\0")
  .slice(0, -1);
const inSrc = order.filter((p) => p.startsWith("./src/"));

// Logs each call; given $CUT_AT, prints a record cut right after that name's "ok" and dies by SIGKILL.
const bin = wrapCommand(
  path.join(dir, "bin"),
  "sha256sum",
  `echo call >> "$CALLS"
for a; do
  if [ -n "$CUT_AT" ] && [ "$a" = "$CUT_AT" ]; then
    printf '%064d  %s' 0 "\${CUT_AT%.php}"
    kill -9 $$
  fi
done`,
);

function list(shell: readonly string[], env: Record<string, string> = {}) {
  const [, , program, ...args] = manifestProbe(tree).argv;
  const calls = path.join(dir, "calls");
  writeFileSync(calls, "");
  const r = spawnSync(shell[0]!, [...shell.slice(1), "-c", program!, ...args], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, CALLS: calls, ...env },
  });
  const records = r.stdout.toString("utf8").split("@@hashes\0")[1]?.split("\0").slice(0, -1) ?? [];
  return { code: r.status, records, calls: readFileSync(calls, "utf8").split("\n").length - 1 };
}

const want = new Map(
  order.map((p) => [
    p,
    createHash("sha256")
      .update(readFileSync(path.join(tree, p)))
      .digest("hex"),
  ]),
);

for (const shell of [["dash"], ["bash", "--posix"]]) {
  test(`${shell.join(" ")}: every file hashed once and right, by two sha256sum`, () => {
    const r = list(shell);
    assert.equal(r.code, 0);
    // Two processes share the hashing only where there are two CPUs to share.
    if (cpus() >= 2) assert.ok(r.calls >= 2, `${r.calls} call(s)`);
    const got = r.records.map((rec) => [rec.slice(66), rec.slice(0, 64)] as const);
    assert.equal(got.length, want.size, "no file twice, none missing");
    assert.deepEqual(new Map(got), want);
  });

  for (const [half, file] of [
    ["first", inSrc[0]!],
    ["second", inSrc.at(-1)!],
  ] as const)
    test(`${shell.join(" ")}: sha256sum killed in the ${half} half, its record cut after "ok": the script fails`, () => {
      assert.match(file, /ok\.php$/);
      assert.notEqual(list(shell, { CUT_AT: file }).code, 0);
    });
}
