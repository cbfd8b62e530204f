import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { Module } from "node:module";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import vm from "node:vm";
import { cutover, ROOT } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";

/**
 * The CLI bundle's loader on real V8 and real files: what it caches, and what it refuses to use.
 * Each load is its own process, as each run of the CLI is.
 */
const work = mkdtempSync(path.join(os.tmpdir(), "cutover code cache ü "));
after(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
/** A fresh bundle file and cache directory; the bundle's answer() returns `answer` (2 digits). */
function setup(answer: number) {
  const dir = path.join(work, `case ${++n}`);
  mkdirSync(dir);
  const bundle = path.join(dir, "cli.cjs");
  writeFileSync(bundle, source(answer));
  return { bundle, cache: path.join(dir, "cache"), dir };
}
const source = (answer: number) =>
  `const parts = [];\nfor (let i = 0; i < 3; i++) parts.push(i);\nexports.answer = () => ${answer} + parts.length - 3;\nexports.file = __filename;\n`;
const answer = (exports: unknown) => (exports as { answer: () => number }).answer();
/** Loads the bundle in a new process, runs answer() and saves the cache, as the CLI does. */
function load(
  bundle: string,
  cache: string | undefined,
  kind: string,
  nodeFlags: string[] = [],
): { cache: string; answer: number } {
  const helper = path.join(ROOT, "test/helpers/code-cache-load.ts");
  const args = [...nodeFlags, "--import", "tsx", helper, bundle, cache ?? "-", kind];
  const out = execFileSync(process.execPath, args, {
    cwd: ROOT,
    encoding: "utf8",
  });
  return JSON.parse(out);
}
const cacheFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".v8"));

test("the second run takes the bytecode the first one saved, and the bundle runs the same", () => {
  const { bundle, cache } = setup(42);
  assert.deepEqual(load(bundle, cache, "cli"), { cache: "none", answer: 42 });
  const [file] = cacheFiles(cache);
  assert.match(file!, /^[0-9a-f]{64}\.cli\.v8$/);
  assert.equal(lstatSync(path.join(cache, file!)).mode & 0o777, 0o600);
  assert.equal(lstatSync(cache).mode & 0o777, 0o700);
  const written = lstatSync(path.join(cache, file!)).mtimeMs;

  assert.deepEqual(load(bundle, cache, "cli"), { cache: "used", answer: 42 });
  assert.deepEqual(cacheFiles(cache), [file]);
  assert.equal(
    lstatSync(path.join(cache, file!)).mtimeMs,
    written,
    "a cache that was used is not written again",
  );
  assert.equal(load(bundle, cache, "deploy").cache, "none", "each kind of run has its own");
  assert.equal(cacheFiles(cache).length, 2);
});

test("a changed bundle of the same length never runs the old bytecode (V8 alone would)", () => {
  const { bundle, cache } = setup(42);
  load(bundle, cache, "cli");
  const [old] = cacheFiles(cache);
  writeFileSync(bundle, source(43));
  assert.deepEqual(load(bundle, cache, "cli"), { cache: "none", answer: 43 }, "named after the content");

  // Why the name must carry a hash of the content: V8 checks a cache only against the length
  // (a fresh source here, not compiled in this process before).
  const script = new vm.Script(Module.wrap(source(43)), { cachedData: readFileSync(path.join(cache, old!)) });
  assert.equal(script.cachedDataRejected, false, "V8 took bytecode made from another source");
  const exports: Record<string, unknown> = {};
  (script.runInThisContext() as (e: unknown, ...rest: unknown[]) => void)(exports, null, {}, bundle, "");
  assert.equal(answer(exports), 42, "and ran the old code");
});

test("runs with other Node flags keep a cache of their own instead of overwriting each other's", () => {
  const { bundle, cache } = setup(42);
  load(bundle, cache, "cli");
  // V8 refuses a cache made under other flags ("rejected"): a key of its own avoids that.
  assert.deepEqual(load(bundle, cache, "cli", ["--stack-size=900"]), { cache: "none", answer: 42 });
  assert.equal(cacheFiles(cache).length, 2);
  assert.equal(load(bundle, cache, "cli", ["--stack-size=900"]).cache, "used");
  assert.equal(load(bundle, cache, "cli").cache, "used");
});

test("a corrupt cache file is rejected, the bundle still runs, and a good cache replaces it", () => {
  const { bundle, cache } = setup(42);
  load(bundle, cache, "cli");
  const [file] = cacheFiles(cache);
  writeFileSync(path.join(cache, file!), Buffer.alloc(4096, 7));
  assert.deepEqual(load(bundle, cache, "cli"), { cache: "rejected", answer: 42 });
  assert.deepEqual(load(bundle, cache, "cli"), { cache: "used", answer: 42 });
});

test("a cache directory others can write to, a symlinked cache file or no directory: no cache, same run", () => {
  const shared = setup(42);
  mkdirSync(shared.cache, { mode: 0o777 });
  chmodSync(shared.cache, 0o777);
  assert.deepEqual(load(shared.bundle, shared.cache, "cli"), { cache: "none", answer: 42 });
  assert.deepEqual(cacheFiles(shared.cache), [], "nothing written where others could swap it");

  const linked = setup(42);
  load(linked.bundle, linked.cache, "cli");
  const [file] = cacheFiles(linked.cache);
  const elsewhere = path.join(linked.dir, "elsewhere.v8");
  writeFileSync(elsewhere, readFileSync(path.join(linked.cache, file!)));
  rmSync(path.join(linked.cache, file!));
  symlinkSync(elsewhere, path.join(linked.cache, file!));
  assert.equal(load(linked.bundle, linked.cache, "cli").cache, "none", "a symlink is not read");

  const none = setup(42);
  assert.deepEqual(load(none.bundle, undefined, "cli"), { cache: "none", answer: 42 });
  const blocked = setup(42);
  writeFileSync(blocked.cache, "a file where the directory would be");
  assert.deepEqual(load(blocked.bundle, blocked.cache, "cli"), { cache: "none", answer: 42 });
});

test("only the newest 8 cache files are kept, and files not named like them are left alone", () => {
  const { bundle, cache } = setup(42);
  mkdirSync(cache, { mode: 0o700 });
  const mine = (i: number) => `${String(i).padStart(64, "0")}.cli.v8`;
  const hourAgo = Date.now() / 1000 - 3600;
  for (let i = 0; i < 10; i++) {
    writeFileSync(path.join(cache, mine(i)), "old");
    utimesSync(path.join(cache, mine(i)), hourAgo + i, hourAgo + i);
  }
  writeFileSync(path.join(cache, "notes.txt"), "not a cache file");
  utimesSync(path.join(cache, "notes.txt"), hourAgo - 60, hourAgo - 60);
  load(bundle, cache, "cli");
  const left = readdirSync(cache);
  const kept = left.filter((f) => f.endsWith(".v8")).sort();
  assert.equal(kept.length, 8);
  assert.deepEqual(kept.slice(0, 7), [3, 4, 5, 6, 7, 8, 9].map(mine), "the oldest went");
  assert.match(kept[7]!, /^[1-9a-f]/, "the new cache is kept");
  assert.ok(left.includes("notes.txt"));
});

test("the CLI: its first good run saves a cache per kind of run, the next runs use it and print the same", async () => {
  const xdg = path.join(work, "xdg home");
  const fx = fixture();
  after(() => fx.cleanup());
  const env = { XDG_CACHE_HOME: xdg };
  const dir = path.join(xdg, "cutover-code-cache");
  const mtimes = () => new Map(cacheFiles(dir).map((f) => [f, lstatSync(path.join(dir, f)).mtimeMs]));

  const refused = await cutover(["deploy"], work, env);
  assert.equal(refused.code, 2, "no cutover.yaml here");
  assert.equal(existsSync(xdg), false, "a run that failed leaves no cache, nor its directory");
  const version = await cutover(["--version"], work, env);
  assert.equal(version.code, 0, version.stderr);
  assert.deepEqual(
    [...mtimes().keys()].map((f) => f.split(".")[1]),
    ["cli"],
  );
  const first = await cutover(["--json", "deploy", "-q"], fx.app, env);
  assert.equal(first.code, 0, first.stderr);
  const saved = mtimes();
  assert.deepEqual([...saved.keys()].map((f) => f.split(".")[1]).sort(), ["cli", "deploy"]);

  assert.deepEqual(await cutover(["--version"], work, env), version);
  fx.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
  const second = await cutover(["--json", "deploy", "-q"], fx.app, env);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(JSON.parse(second.stdout).ok, true);
  assert.equal(readFileSync(path.join(fx.deployPath, "current/src/lib.php"), "utf8").includes("v2"), true);
  assert.deepEqual(mtimes(), saved, "used, not written again");
});
