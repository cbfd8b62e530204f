import assert from "node:assert/strict";
import {
  appendFileSync,
  chmodSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { wrapCommand } from "../helpers/bin.js";
import { cutover, json } from "../helpers/cli.js";
import { type Fixture, fixture } from "../helpers/fixture.js";

const fixtures: Fixture[] = [];
after(() => {
  for (const fx of fixtures) fx.cleanup();
});

/**
 * Two releases of the fixture app (after `prepare`): the second changes src/lib.php only, so the
 * rest are shared inodes.
 */
async function twoReleases(
  prepare: (fx: Fixture) => void = () => undefined,
): Promise<{ fx: Fixture; first: string; second: string }> {
  const fx = fixture();
  fixtures.push(fx);
  prepare(fx);
  const ids: string[] = [];
  for (const v of ["v1", "v2"]) {
    fx.file("src/lib.php", `<?php function version() { return '${v}'; }\n`);
    const r = await cutover(["--json", "deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    ids.push(json<{ release: string }>(r).release);
  }
  return { fx, first: ids[0]!, second: ids[1]! };
}

const live = (fx: Fixture) => path.basename(realpathSync(path.join(fx.deployPath, "current")));
const lastHistory = (fx: Fixture) =>
  JSON.parse(
    readFileSync(path.join(fx.deployPath, ".cutover/history.jsonl"), "utf8").trim().split("\n").at(-1)!,
  ) as { event: string; outcome: string; reason?: string };

test("a file of the live release edited in place changed the rollback target too (a shared inode): the rollback refuses, naming it", async () => {
  const { fx, first, second } = await twoReleases();
  const shared = path.join(fx.deployPath, "releases", first, "public/index.php");
  assert.equal(statSync(shared).ino, statSync(path.join(fx.deployPath, "current/public/index.php")).ino);
  appendFileSync(path.join(fx.deployPath, "current/public/index.php"), "echo 'hotfix';\n");

  const r = await cutover(["rollback"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  const firstLine = r.stderr.split("\n").find((l) => l.includes("not as it was deployed")) ?? "";
  assert.match(
    firstLine,
    new RegExp(`local: release ${first} is not as it was deployed: 1 changed \\(public/index\\.php\\)`),
  );
  assert.match(r.stderr, /changed: public\/index\.php/);
  assert.match(r.stderr, /--no-verify/);
  assert.equal(live(fx), second, "nothing switched");
  const h = lastHistory(fx);
  assert.deepEqual([h.event, h.outcome], ["rollback", "failed"]);
  assert.match(h.reason ?? "", /not as it was deployed/);

  const forced = await cutover(["rollback", "--no-verify"], fx.app);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(live(fx), first);
});

test("a file removed from the rollback target, or its mode changed: refused; every host is checked before any switches", async () => {
  const { fx, first, second } = await twoReleases();
  const two = path.join(fx.dir, "second host");
  fx.writeConfig({}, [
    { name: "one", path: fx.deployPath },
    { name: "two", path: two },
  ]);
  // A fleet of two: deploy twice more so both hosts hold the same two releases.
  for (const v of ["v3", "v4"]) {
    fx.file("src/lib.php", `<?php function version() { return '${v}'; }\n`);
    const d = await cutover(["deploy", "-q"], fx.app);
    assert.equal(d.code, 0, d.stderr);
  }
  const target = live(fx);
  const rows = json<{ id: string }[]>(await cutover(["--json", "releases"], fx.app));
  const back = rows.map((x) => x.id).filter((id) => id !== target && id !== first && id !== second)[0]!;
  rmSync(path.join(fx.deployPath, "releases", back, "public/index.php"));
  chmodSync(path.join(two, "releases", back, "src/lib.php"), 0o600);

  const r = await cutover(["rollback"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`one: release ${back} is not as it was deployed: 1 missing \\(public/index\\.php\\)`),
  );
  assert.match(
    r.stderr,
    new RegExp(`two: release ${back} is not as it was deployed: 1 mode changed \\(src/lib\\.php\\)`),
  );
  assert.equal(live(fx), target);
  assert.equal(path.basename(realpathSync(path.join(two, "current"))), target);
});

test("files added to the rollback target only warn; it switches", async () => {
  const { fx, first } = await twoReleases();
  writeFileSync(path.join(fx.deployPath, "releases", first, "public/written-by-the-app.txt"), "x\n");
  const r = await cutover(["rollback"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /holds files its manifest does not list: 1 not in its manifest \(public\/written-by-the-app\.txt\)/,
  );
  assert.equal(live(fx), first);
});

test("a path the config made a writable dir since the release was deployed: its files are not missing", async () => {
  const { fx, first } = await twoReleases();
  fx.writeConfig({ writable_dirs: ["bootstrap/cache", "src"] });
  const r = await cutover(["rollback"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(live(fx), first);
});

test("with its manifest changed on the host as well, the refusal says the files cannot be named", async () => {
  const { fx, first, second } = await twoReleases();
  appendFileSync(path.join(fx.deployPath, "current/public/index.php"), "echo 'hotfix';\n");
  appendFileSync(path.join(fx.deployPath, ".cutover/releases", `${first}.manifest`), '"x" f 644 0\n');
  // This machine's own copy of the manifest is not used either.
  const r = await cutover(["rollback"], fx.app, { XDG_CACHE_HOME: path.join(fx.dir, "empty cache") });
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /its recorded manifest is missing or changed, so the files that differ cannot be named/,
  );
  assert.equal(live(fx), second);
});

test("--dry-run shows the check before the switch; --no-verify leaves it out", async () => {
  const { fx } = await twoReleases();
  const r = await cutover(["--dry-run", "rollback"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /== check\n[^=]*compare release \S+ with its manifest/);
  assert.ok(r.stdout.indexOf("== check") < r.stdout.indexOf("== switch"));
  const skipped = await cutover(["--dry-run", "rollback", "--no-verify"], fx.app);
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.doesNotMatch(skipped.stdout, /== check/);
});

test("verify names what differs from the live release's manifest", async () => {
  const { fx } = await twoReleases();
  appendFileSync(path.join(fx.deployPath, "current/public/index.php"), "echo 'hotfix';\n");
  rmSync(path.join(fx.deployPath, "current/src/lib.php"));
  const r = await cutover(["verify"], fx.app);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    /content differs from the recorded checksum: 1 changed \(public\/index\.php\), 1 missing \(src\/lib\.php\)/,
  );
  const rows = json<{ changes?: { modified: string[]; removed: string[] } }[]>(
    await cutover(["--json", "verify"], fx.app),
  );
  assert.deepEqual(rows[0]!.changes?.modified, ["public/index.php"]);
  assert.deepEqual(rows[0]!.changes?.removed, ["src/lib.php"]);
});

test("doctor warns of a rollback target that a rollback would refuse, before the emergency", async () => {
  const { fx, first } = await twoReleases();
  const clean = await cutover(["--json", "doctor"], fx.app);
  const findings = (r: typeof clean) =>
    json<{ check: string; message: string }[]>(r).filter((f) => f.check === "rollback");
  assert.deepEqual(findings(clean), [], clean.stderr);
  appendFileSync(path.join(fx.deployPath, "current/public/index.php"), "echo 'hotfix';\n");
  const r = await cutover(["--json", "doctor"], fx.app);
  assert.deepEqual(
    findings(r).map((f) => f.message),
    [
      `the rollback target ${first} is not as it was deployed: 1 changed (public/index.php); \`cutover rollback\` would refuse it`,
    ],
  );
});

test("after a rollback that switched but was not recorded, a plain rollback asks for the release by name instead of going one further back", async () => {
  const { fx, first, second } = await twoReleases();
  fx.file("src/lib.php", "<?php function version() { return 'v3'; }\n");
  const d = await cutover(["--json", "deploy", "-q"], fx.app);
  assert.equal(d.code, 0, d.stderr);
  const third = json<{ release: string }>(d).release;
  // What a rollback from third to second killed between its switch and its records leaves.
  const metaFile = (id: string) => path.join(fx.deployPath, ".cutover/releases", `${id}.json`);
  const r = await cutover(["rollback", "-q"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  for (const [id, state] of [
    [second, "superseded"],
    [third, "live"],
  ] as const) {
    const meta = JSON.parse(readFileSync(metaFile(id), "utf8")) as Record<string, unknown>;
    writeFileSync(metaFile(id), `${JSON.stringify({ ...meta, state })}\n`);
  }
  const again = await cutover(["rollback"], fx.app);
  assert.equal(again.code, 1, again.stderr);
  assert.match(
    again.stderr,
    new RegExp(
      `^error: local: an earlier rollback switched to ${second} and was not recorded .*: ${second} is live$`,
      "m",
    ),
  );
  assert.equal(live(fx), second, "nothing switched");
  const named = await cutover(["rollback", "--to", first], fx.app);
  assert.equal(named.code, 0, named.stderr);
  assert.equal(live(fx), first);
});

test("a huge manifest on the host (a file grown to 600 MiB) is read no further than any real one: the check hashes the files instead", async () => {
  const { fx, first } = await twoReleases();
  truncateSync(path.join(fx.deployPath, ".cutover/releases", `${first}.manifest`), 600 * 1024 * 1024);
  // This machine has no copy of it: the host's is the one read.
  const r = await cutover(["rollback"], fx.app, { XDG_CACHE_HOME: path.join(fx.dir, "empty cache") });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(live(fx), first);
});

/** Two releases with no file in common: every file of the app changed between them. */
async function disjointReleases(): Promise<{ fx: Fixture; first: string }> {
  const fx = fixture();
  fixtures.push(fx);
  for (let i = 0; i < 20; i++) fx.file(`src/m${i}.php`, `<?php // ${i} v1\n`);
  const d1 = await cutover(["--json", "deploy", "-q"], fx.app);
  assert.equal(d1.code, 0, d1.stderr);
  fx.file("public/index.php", "<?php // v2\n");
  fx.file("src/lib.php", "<?php // v2\n");
  for (let i = 0; i < 20; i++) fx.file(`src/m${i}.php`, `<?php // ${i} v2\n`);
  assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  return { fx, first: json<{ release: string }>(d1).release };
}

test("a target that shares no file with the live release (every file changed since): its files, untouched since its manifest, are not read again", async () => {
  const { fx, first } = await disjointReleases();
  // Every name a hasher is given: sha256sum's after "--", openssl's "./…".
  const log = path.join(fx.dir, "hashed.log");
  writeFileSync(log, "");
  const bin = path.join(fx.dir, "bin");
  wrapCommand(
    bin,
    "sha256sum",
    `n=; for a; do [ -z "$n" ] || echo "$a" >> "$HASH_LOG"; [ "$a" != -- ] || n=1; done`,
  );
  wrapCommand(bin, "openssl", `for a; do case $a in ./*) echo "$a" >> "$HASH_LOG" ;; esac; done`);
  const r = await cutover(["rollback"], fx.app, { PATH: `${bin}:${process.env.PATH}`, HASH_LOG: log });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(live(fx), first);
  assert.deepEqual(readFileSync(log, "utf8").split("\n").filter(Boolean), [], "no file read");
});

test("a file of one link replaced in the target since (a new inode, its old mtime kept) is read, and refused", async () => {
  const { fx, first } = await disjointReleases();
  const lib = path.join(fx.deployPath, "releases", first, "src/m3.php");
  const copy = `${lib}.new`;
  writeFileSync(copy, "<?php // edited\n");
  const { atime, mtime } = statSync(lib);
  utimesSync(copy, atime, mtime);
  renameSync(copy, lib);
  const r = await cutover(["rollback"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /1 changed \(src\/m3\.php\)/);
});

test("a file name with a newline cannot forge a line of the refusal or the warning: names are shown quoted", async () => {
  const odd = "public/a\nerror: forged line.php";
  const { fx, first } = await twoReleases((f) => f.file(odd, "<?php // odd\n"));
  appendFileSync(path.join(fx.deployPath, "current", odd), "echo 'hotfix';\n");
  writeFileSync(path.join(fx.deployPath, "releases", first, "public/b\nwarning: forged too"), "x\n");
  const r = await cutover(["rollback"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /1 changed \("public\/a\\nerror: forged line\.php"\)/);
  assert.doesNotMatch(r.stderr, /^(error|warning): forged/m);
  const forced = await cutover(["rollback", "--no-verify"], fx.app);
  assert.equal(forced.code, 0, forced.stderr);
  const v = await cutover(["verify"], fx.app);
  assert.match(v.stdout, /"public\/b\\nwarning: forged too"/);
  assert.doesNotMatch(v.stdout, /^warning: forged/m);
});

test("diff shows a file name with a newline quoted: it cannot forge a line of its output", async () => {
  const odd = "public/c\n  removed         composer.json";
  const { fx } = await twoReleases((f) => f.file(odd, "<?php // odd\n"));
  rmSync(path.join(fx.app, odd));
  fx.file("src/lib.php", "<?php function version() { return 'v3'; }\n");
  const d = await cutover(["deploy", "-q"], fx.app);
  assert.equal(d.code, 0, d.stderr);
  const r = await cutover(["diff"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ {2}removed {9}"public\/c\\n {2}removed {9}composer\.json"$/m);
  assert.doesNotMatch(r.stdout, /^ {2}removed {9}composer\.json$/m);
});
