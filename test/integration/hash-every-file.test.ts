import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { manifestProbe, parseHashes } from "../../src/plan/manifest.js";
import { cpus, wrapCommand } from "../helpers/bin.js";
import { scratchDir } from "../helpers/scratch.js";

/**
 * The listing's hashing of every file (plan/manifest.ts), run as the host runs it under dash and
 * bash, with openssl and (openssl failing its known answer) with sha256sum: two hashers at once for
 * many files and bytes, each file exactly once and right, odd names included (a newline or a
 * backslash in a name: sha256sum even where openssl hashes the rest); a hasher killed in either
 * half, even with a record cut right after "ok", fails the script.
 */
const dir = scratchDir("hash every file ");
const tree = path.join(dir, "release");
const odd = [
  "space name.php",
  "new\nline.txt",
  "back\\slash.txt",
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
// A newline or backslash in a directory's name only: the file's path has it, so sha256sum too.
for (const name of ["new\nline dir", "back\\slash dir"]) {
  mkdirSync(path.join(tree, "odd", name));
  writeFileSync(path.join(tree, "odd", name, "plain.txt"), name);
}
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

// Each logs its calls on files; given $CUT_AT, prints a record cut right after that name's "ok" and
// dies by SIGKILL. openssl answers nothing given $NO_OPENSSL (its known answer fails), and fails
// given a path with a newline or backslash.
const cutAt = (record: string) => `for a; do
  if [ -n "$CUT_AT" ] && [ "$a" = "$CUT_AT" ]; then
    printf '${record}' 0 "\${CUT_AT%.php}"
    kill -9 $$
  fi
done`;
const bin = path.join(dir, "bin");
wrapCommand(bin, "sha256sum", `echo call >> "$CALLS"\n${cutAt("%064d  %s")}`);
wrapCommand(
  bin,
  "openssl",
  `[ -z "$NO_OPENSSL" ] || exit 1
# Given $ONE_BLOCK_ONLY, an openssl that hashes a one-block input ("abc") right and a longer one wrong.
if [ -n "$ONE_BLOCK_ONLY" ] && [ "$#" -eq 3 ]; then
  [ "$(cat)" = abc ] && echo "${createHash("sha256").update("abc").digest("hex")} *stdin" || echo "$(printf %064d 0) *stdin"
  exit 0
fi
nl='
'
# Given a path with a newline or backslash (which some openssl escapes in its lines), it fails.
for a; do case $a in *"$nl"* | *\\\\*) echo "openssl given $a" >&2; exit 9 ;; esac; done
case "$*" in *./*) echo call >> "$OPENSSL_CALLS" ;; esac
${cutAt("%064d *%s")}`,
);

function list(
  shell: readonly string[],
  env: Record<string, string> = {},
  previous?: { dir: string; manifest: string },
  root = tree,
) {
  const [, , program, ...args] = manifestProbe(root, previous).argv;
  const calls = path.join(dir, "calls");
  const opensslCalls = path.join(dir, "openssl calls");
  writeFileSync(calls, "");
  writeFileSync(opensslCalls, "");
  const r = spawnSync(shell[0]!, [...shell.slice(1), "-c", program!, ...args], {
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      CALLS: calls,
      OPENSSL_CALLS: opensslCalls,
      ...env,
    },
  });
  const hashes = r.stdout.toString("utf8").split("@@hashes\0")[1]?.split("@@previous\0")[0];
  const records = hashes?.split("\0").slice(0, -1) ?? [];
  // Each hash record on its own (openssl's lines come as one record after "@@openssl").
  const hashed = records.flatMap((rec, i) =>
    rec === "@@openssl"
      ? []
      : records[i - 1] === "@@openssl"
        ? rec.split("\n").filter((l) => l !== "")
        : [rec],
  );
  const count = (file: string) => readFileSync(file, "utf8").split("\n").length - 1;
  return { code: r.status, records, hashed, calls: count(calls), opensslCalls: count(opensslCalls) };
}

const want = new Map(
  order.map((p) => [
    p,
    createHash("sha256")
      .update(readFileSync(path.join(tree, p)))
      .digest("hex"),
  ]),
);

const hashers = [
  { name: "openssl", env: {} },
  { name: "sha256sum", env: { NO_OPENSSL: "1" } },
] as const;

for (const shell of [["dash"], ["bash", "--posix"]])
  for (const hasher of hashers) {
    const how = `${shell.join(" ")}, ${hasher.name}`;
    test(`${how}: every file hashed once and right, by two hashers`, () => {
      const r = list(shell, hasher.env);
      assert.equal(r.code, 0);
      const [calls, others] =
        hasher.name === "openssl" ? [r.opensslCalls, r.calls] : [r.calls, r.opensslCalls];
      // Two processes share the hashing only where there are two CPUs to share.
      if (cpus() >= 2) assert.ok(calls >= 2, `${calls} call(s)`);
      // openssl gets no path with a newline or backslash: one sha256sum hashes those four.
      assert.equal(others, hasher.name === "openssl" ? 1 : 0);
      assert.equal(r.hashed.length, want.size, "no file twice, none missing");
      assert.deepEqual(parseHashes(r.records), want);
    });

    for (const [half, file] of [
      ["first", inSrc[0]!],
      ["second", inSrc.at(-1)!],
    ] as const)
      test(`${how}: the hasher killed in the ${half} half, its record cut after "ok": the script fails`, () => {
        assert.match(file, /ok\.php$/);
        assert.notEqual(list(shell, { ...hasher.env, CUT_AT: file }).code, 0);
      });
  }

test("with a previous release, only the files of one link (the new ones) are hashed, by two hashers", () => {
  const previous = { dir: path.join(dir, "previous release"), manifest: path.join(dir, "previous manifest") };
  writeFileSync(previous.manifest, "");
  mkdirSync(path.join(previous.dir, "src"), { recursive: true });
  mkdirSync(path.join(previous.dir, "odd", "new\nline dir"), { recursive: true });
  // Linked ones with a newline in their path too: sha256sum leaves them as well.
  const linked = [...inSrc.slice(0, 50), "./odd/new\nline dir/plain.txt"];
  for (const p of linked) linkSync(path.join(tree, p), path.join(previous.dir, p));
  try {
    const r = list(["dash"], {}, previous);
    assert.equal(r.code, 0);
    if (cpus() >= 2) assert.ok(r.opensslCalls >= 2, `${r.opensslCalls} call(s)`);
    const fresh = new Map([...want].filter(([p]) => !linked.includes(p)));
    assert.equal(r.hashed.length, fresh.size, "no file twice, none missing, no linked one");
    assert.deepEqual(parseHashes(r.records), fresh);
  } finally {
    rmSync(previous.dir, { recursive: true });
  }
});

// Fewer files or bytes than the split needs: one hasher, run by find itself (most deploys).
const small = path.join(dir, "small release");
mkdirSync(path.join(small, "a dir"), { recursive: true });
for (const name of ["new\nline.txt", "back\\slash.txt", "-z", "index.php", "last.php"])
  writeFileSync(path.join(small, "a dir", name), name);
const smallWant = new Map(
  ["new\nline.txt", "back\\slash.txt", "-z", "index.php", "last.php"].map((name) => [
    `./a dir/${name}`,
    createHash("sha256").update(name).digest("hex"),
  ]),
);

for (const shell of [["dash"], ["bash", "--posix"]])
  for (const hasher of hashers) {
    const how = `${shell.join(" ")}, ${hasher.name}`;
    test(`${how}, few files: every file hashed once and right, by one hasher`, () => {
      const r = list(shell, hasher.env, undefined, small);
      assert.equal(r.code, 0);
      // One run of the hasher; sha256sum also hashes the names with a newline or backslash.
      assert.deepEqual([r.opensslCalls, r.calls], hasher.name === "openssl" ? [1, 1] : [0, 1]);
      assert.equal(r.hashed.length, smallWant.size, "no file twice, none missing");
      assert.deepEqual(parseHashes(r.records), smallWant);
    });

    if (hasher.name === "openssl")
      test(`${shell.join(" ")}: an openssl right on one block but wrong on two is not used`, () => {
        const r = list(shell, { ONE_BLOCK_ONLY: "1" }, undefined, small);
        assert.equal(r.code, 0);
        assert.deepEqual([r.opensslCalls, r.calls], [0, 1]);
        assert.deepEqual(parseHashes(r.records), smallWant);
      });

    test(`${how}, few files: the hasher killed mid-record: the script fails`, () => {
      const r = list(shell, { ...hasher.env, CUT_AT: "./a dir/index.php" }, undefined, small);
      assert.notEqual(r.code, 0);
    });
  }
