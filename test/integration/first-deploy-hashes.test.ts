import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { manifestEntries } from "../../src/plan/diff.js";
import { cpus, wrapCommand } from "../helpers/bin.js";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";

/**
 * A first deploy hashes every file of the release on the host, two hashers (openssl where it
 * answers right, else sha256sum) at once for many files and bytes (plan/manifest.ts; the script itself: hash-every-file.test.ts). Every file is hashed exactly once, by the listing itself
 * (none is left for the pass that hashes what a listing missed), and the manifest holds each
 * file's content hash, whatever its name.
 */
const fx = fixture();
after(() => fx.cleanup());

const odd = ["space name.php", "new\nline.txt", `quote'"s.txt`, "ünï ✓.txt", "-z", "--", "@@end", "ok"];
for (const name of odd) fx.file(`odd/${name}`, `content of ${name}\n`);
// Enough files and bytes (8 MiB) for two processes.
for (let i = 0; i < 700; i++) fx.file(`src/m${i % 7}/F${i}.php`, `<?php // ${i}\n${"x".repeat(12_288)}\n`);

const hashLog = path.join(fx.dir, "hash.log");
// Log how many files each hasher was given: sha256sum's come after "--", openssl's start with "./".
const bin = path.join(fx.dir, "bin");
wrapCommand(
  bin,
  "sha256sum",
  `n=0 names=
for a; do if [ -n "$names" ]; then n=$((n + 1)); elif [ "$a" = -- ]; then names=1; fi; done
printf 'sha256sum %s\\n' "$n" >> "$HASH_LOG"`,
);
wrapCommand(
  bin,
  "openssl",
  `n=0
for a; do case $a in ./*) n=$((n + 1)) ;; esac; done
[ "$n" -eq 0 ] || printf 'openssl %s\\n' "$n" >> "$HASH_LOG"`,
);

/** Regular files below dir (symlinks not followed), by release-relative path. */
function filesOf(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

test("first deploy of 700+ files: each hashed once on the host, in two processes, every hash right", async () => {
  writeFileSync(hashLog, "");
  const r = await cutover(["--json", "deploy"], fx.app, {
    PATH: `${bin}:${process.env.PATH}`,
    HASH_LOG: hashLog,
  });
  assert.equal(r.code, 0, r.stderr);
  const { release } = json<{ release: string }>(r);
  const dir = path.join(fx.deployPath, "releases", release);
  const files = filesOf(dir);
  assert.ok(files.length > 700);

  const calls = readFileSync(hashLog, "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(" "));
  assert.equal(
    calls.reduce((a, [, n]) => a + Number(n), 0),
    files.length,
    "every file hashed once, none again",
  );
  // openssl hashes all but the name with a newline (this machine's openssl answers right).
  assert.deepEqual(
    calls.filter(([tool]) => tool === "sha256sum"),
    [["sha256sum", "1"]],
  );
  // Two processes share the hashing only where there are two CPUs to share.
  if (cpus() >= 2) assert.ok(calls.length >= 3, `the hashers ran ${calls.length} time(s)`);

  const manifest = manifestEntries(
    readFileSync(path.join(fx.deployPath, ".cutover/releases", `${release}.manifest`), "utf8"),
  );
  for (const f of files) {
    const want = createHash("sha256")
      .update(readFileSync(path.join(dir, f)))
      .digest("hex");
    assert.equal(manifest.get(f)?.hash, want, f);
  }
  for (const name of odd) assert.ok(manifest.has(`odd/${name}`), name);
});
