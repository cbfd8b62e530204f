import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { manifestWrite, runWithManifest } from "../../src/engine/manifest-write.js";
import { EDITS_MISMATCH, manifestEdits, manifestFromPrevious } from "../../src/plan/manifest-edits.js";
import { renderScript, shProgram } from "../../src/shell/cmd.js";
import { LocalExecutor } from "../../src/transport/local.js";
import { fakeBin } from "../helpers/bin.js";
import { runCounted, scriptsDuring } from "../helpers/counting.js";
import { fixture } from "../helpers/fixture.js";
import { ownCaches, scratchDir } from "../helpers/scratch.js";

/**
 * A new manifest is written on the host as edits of the previous one (plan/manifest-edits.ts),
 * applied by the host's awk and kept only if its checksum is right. The program runs here under
 * the system's sh and awk on manifests with every awkward character a manifest line can hold; a
 * deploy sends a small "mark ready" and records the same manifest as a whole write would; a
 * previous manifest on the host that is not the one the edits were made from makes the step write
 * the whole manifest instead.
 */
ownCaches();
const executor = new LocalExecutor("local", 30);
after(() => executor.close());
const dir = scratchDir("manifest-edits");
const checksum = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;

/** A sorted manifest of these names, as buildManifest writes one. */
const manifest = (names: readonly string[]) =>
  `${names
    .map((n) => `${JSON.stringify(n)} f 644 ${createHash("sha256").update(n).digest("hex")}`)
    .sort()
    .join("\n")}\n`;

async function apply(previous: string, next: string): Promise<{ code: number; out: string; stderr: string }> {
  const prev = path.join(dir, "prev.manifest");
  const out = path.join(dir, "next.manifest");
  writeFileSync(prev, previous);
  writeFileSync(out, "");
  const edits = manifestEdits(previous, next);
  assert.ok(edits !== undefined);
  const r = await executor.run([manifestFromPrevious(prev, out, checksum(next), edits)]);
  return { code: r.code, out: readFileSync(out, "utf8"), stderr: r.stderr };
}

const odd = [
  "a%s%n.php",
  "back\\slash.php",
  'quote".php',
  "tab\there",
  "ü/ñ.php",
  "😀.php",
  "\uE000.php",
  "-n",
  "d1",
  "i1 x",
];

test("edits of every kind give exactly the new manifest, odd names included", async () => {
  const base = Array.from({ length: 200 }, (_, i) => `src/F${i}.php`);
  const cases: [string[], string[]][] = [
    [base, base],
    [base, [...base, ...odd]],
    [[...base, ...odd], base],
    [base, base.filter((_, i) => i % 3 !== 0).concat(odd.slice(0, 5))],
    [base, ["0-first.php", ...base, "zzz-last.php"]],
    [base, []],
    [[], odd],
  ];
  for (const [was, now] of cases) {
    const next = now.length === 0 ? "" : manifest(now);
    const r = await apply(was.length === 0 ? "" : manifest(was), next);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.out, next);
  }
});

test("a previous manifest that is not the one the edits were made from: nothing written, the step says why", async () => {
  const was = manifest(["a.php", "b.php", "c.php"]);
  const next = manifest(["a.php", "c.php", "d.php"]);
  const prev = path.join(dir, "prev.manifest");
  const out = path.join(dir, "untouched.manifest");
  writeFileSync(prev, manifest(["a.php", "b.php", "c.php", "e.php"]));
  const r = await executor.run([manifestFromPrevious(prev, out, checksum(next), manifestEdits(was, next)!)]);
  assert.notEqual(r.code, 0);
  assert.ok(r.stderr.includes(EDITS_MISMATCH), r.stderr);
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(`${out}.tmp`), false);
  // A host without awk: the same answer, so the step sends the whole manifest instead.
  writeFileSync(prev, was);
  const noAwk = spawnSync(
    "sh",
    ["-c", renderScript([manifestFromPrevious(prev, out, checksum(next), manifestEdits(was, next)!)])],
    {
      env: { PATH: fakeBin(path.join(dir, "bin-no-awk"), ["awk", "mawk", "gawk"]) },
      encoding: "utf8",
    },
  );
  assert.notEqual(noAwk.status, 0);
  assert.ok(noAwk.stderr.includes(`${EDITS_MISMATCH} (awk failed)`), noAwk.stderr);
  assert.equal(existsSync(out), false);
});

test("edits larger than the limit are not made", () => {
  const was = manifest(["a.php"]);
  const now = manifest(Array.from({ length: 100 }, (_, i) => `b${i}.php`));
  assert.equal(manifestEdits(was, now, 1000), undefined);
  assert.ok(manifestEdits(was, now) !== undefined);
});

test("edits under the limit fit one exec argument on Linux, whatever the names' characters (bytes, not UTF-16 units)", async () => {
  const was = manifest(["a.php"]);
  const now = manifest(["a.php", ...Array.from({ length: 200 }, (_, i) => `${"日本語".repeat(70)}${i}.php`)]);
  // ~59,000 UTF-16 units, ~143,000 bytes: too large for one exec argument.
  assert.equal(manifestEdits(was, now), undefined);
  const fits = manifest(["a.php", ...Array.from({ length: 20 }, (_, i) => `${"日本語".repeat(70)}${i}.php`)]);
  const r = await apply(was, fits);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.out, fits);
});

test("a failure after the manifest was written from edits is not a reason to run the step again", async () => {
  const names = Array.from({ length: 50 }, (_, i) => `src/F${i}.php`);
  const was = manifest([...names, "b.php"]);
  const next = manifest([...names, "c.php"]);
  const prev = path.join(dir, "rest-prev.manifest");
  const log = path.join(dir, "rest.log");
  writeFileSync(prev, was);
  writeFileSync(log, "");
  const out = path.join(dir, "rest.manifest");
  const write = manifestWrite(
    out,
    { text: next, checksum: checksum(next), files: 51, bytes: 0 },
    { file: prev, text: was },
  );
  assert.notEqual(write.cmds, write.whole, "the edits are used");
  const failing = shProgram(`echo ran >> "$1"; echo "not the manifest" >&2; exit 1`, [log]);
  await assert.rejects(runWithManifest({ executor, emit: () => undefined }, "mark ready", write, [failing]));
  assert.equal(readFileSync(log, "utf8"), "ran\n");
  assert.equal(readFileSync(out, "utf8"), next);
});

/** Deploys; returns the release, its manifest and the scripts sent during its step `step`. */
async function deployMeasured(fx: ReturnType<typeof fixture>, step: string) {
  const { log, release } = await runCounted(fx.app);
  const scripts = scriptsDuring(log, "local", step);
  const meta = path.join(fx.deployPath, ".cutover", "releases");
  const recorded = readFileSync(path.join(meta, `${release}.manifest`), "utf8");
  const { checksum: want } = JSON.parse(readFileSync(path.join(meta, `${release}.json`), "utf8"));
  assert.equal(checksum(recorded), want, "the recorded manifest is the one the metadata names");
  return { release, recorded, scripts };
}

test("a deploy writes its manifest as edits, and as a whole when the host's previous one is not the expected one", async () => {
  const fx = fixture();
  after(() => fx.cleanup());
  fx.writeConfig({});
  for (let i = 0; i < 300; i++) fx.file(`src/gen/F${i}.php`, `<?php // ${i}\n`);
  const first = await deployMeasured(fx, "mark ready");
  const whole = first.recorded.length;
  fx.file("src/gen/F1.php", "<?php // changed\n");
  const second = await deployMeasured(fx, "mark ready");
  assert.equal(second.scripts.length, 1);
  assert.ok(
    second.scripts[0]! < whole / 4,
    `mark ready sent ${second.scripts[0]} bytes (manifest: ${whole})`,
  );
  const changed = createHash("sha256").update("<?php // changed\n").digest("hex");
  assert.match(second.recorded, new RegExp(`^"src/gen/F1.php" f [0-7]+ ${changed}$`, "m"));
  // The host's copy of the previous manifest changes (this machine still recalls the right one).
  const previousFile = path.join(fx.deployPath, ".cutover", "releases", `${second.release}.manifest`);
  writeFileSync(previousFile, `${second.recorded}"stray" f 644 ${"0".repeat(64)}\n`);
  fx.file("src/gen/F2.php", "<?php // changed too\n");
  const third = await deployMeasured(fx, "mark ready");
  assert.equal(third.scripts.length, 2, "the edits, then the whole manifest");
  assert.ok(third.scripts[0]! < whole / 4 && third.scripts[1]! > whole / 2);
  assert.ok(!third.recorded.includes('"stray"'));
  assert.ok(third.recorded.includes('"src/gen/F2.php"'));
});

test("a before_switch hook after the manifest: it is written as edits in the manifest's own step", async () => {
  const fx = fixture();
  after(() => fx.cleanup());
  fx.writeConfig({ hooks: { before_switch: ["true"] } });
  for (let i = 0; i < 300; i++) fx.file(`src/gen/F${i}.php`, `<?php // ${i}\n`);
  const first = await deployMeasured(fx, "record manifest and checksum");
  fx.file("src/gen/F1.php", "<?php // changed\n");
  const second = await deployMeasured(fx, "record manifest and checksum");
  assert.ok(
    Math.max(...second.scripts) < first.recorded.length / 4,
    `sent ${second.scripts.join(", ")} bytes`,
  );
});
