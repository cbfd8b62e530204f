import assert from "node:assert/strict";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { snapshot } from "../helpers/tree.js";

interface Window {
  startMs: number;
  endMs: number;
  ms: number;
  files: number;
}
interface Result {
  ok: boolean;
  release: string;
  previous: string | null;
  hosts: { host: string; serving: string | null; mixedWindow?: Window | null }[];
  error?: { message: string };
}

const fx = fixture();
const cache = path.join(fx.dir, "cache");
after(() => fx.cleanup());
fx.writeConfig({ strategy: "in-place", keep_builds: 2 });
const env = { XDG_CACHE_HOME: cache };
const run = (...args: string[]) => cutover(["-c", fx.config, ...args], fx.app, env);
const live = path.join(fx.deployPath, "current");
const buildsDir = () => {
  const stage = readdirSync(path.join(cache, "cutover"))[0]!;
  return path.join(cache, "cutover", stage, "builds");
};
/** The live tree without what the upload never touches: shared links and writable dirs. */
const code = () => {
  const s = snapshot(live);
  for (const k of [...s.keys()])
    if (k === ".env" || k.startsWith("storage/uploads") || k.startsWith("bootstrap")) s.delete(k);
  return s;
};
const deploy = async () => {
  const r = await run("deploy", "--json");
  assert.equal(r.code, 0, r.stderr);
  return json<Result>(r);
};

const built: Record<string, Map<string, string>> = {};

test("in-place deploys update `current` as a real directory; shared and writable paths stay as they were", async () => {
  const first = await deploy();
  assert.ok(lstatSync(live).isDirectory() && !lstatSync(live).isSymbolicLink());
  assert.equal(readlinkSync(path.join(live, "storage/uploads")), "../../shared/storage/uploads");
  assert.equal(readlinkSync(path.join(live, ".env")), "../shared/.env");
  assert.ok(lstatSync(path.join(live, "bootstrap/cache")).isDirectory());
  built[first.release] = code();

  // The app writes to its shared and writable paths; the next upload must not touch them.
  writeFileSync(path.join(fx.deployPath, "shared/storage/uploads/by-app.txt"), "written by the app\n");
  writeFileSync(path.join(live, "bootstrap/cache/config.php"), "<?php return [];\n");
  const sharedBefore = snapshot(path.join(fx.deployPath, "shared"));
  const writableBefore = snapshot(path.join(live, "bootstrap"));

  fx.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
  fx.file("src/new.php", "<?php // added in v2\n");
  fx.file("bootstrap/cache/from-source.php", "<?php // never uploaded: writable\n");
  rmSync(path.join(fx.app, "public/index.php"));
  fx.file("public/index.php", "<?php echo 'v2';\n");
  const second = await deploy();
  assert.equal(second.previous, first.release);
  const w = second.hosts[0]!.mixedWindow!;
  assert.ok(w.files >= 3, `renamed files counted: ${JSON.stringify(w)}`);
  assert.ok(w.ms >= 0 && w.endMs >= w.startMs);
  assert.deepEqual(snapshot(path.join(fx.deployPath, "shared")), sharedBefore);
  assert.deepEqual(snapshot(path.join(live, "bootstrap")), writableBefore);
  assert.ok(!existsSync(path.join(live, "bootstrap/cache/from-source.php")));
  built[second.release] = code();
  assert.notDeepEqual(built[second.release], built[first.release]);

  const releases = await run("releases", "--json");
  const rows = json<{ id: string; hosts: Record<string, { live: boolean; state: string }> }[]>(releases);
  assert.deepEqual(
    rows.map((r) => [r.id, r.hosts.local!.state, r.hosts.local!.live]),
    [
      [second.release, "live", true],
      [first.release, "superseded", false],
    ],
  );
});

test("rollback uploads the previous build again: the code tree is byte-identical, shared and writable untouched", async () => {
  const [first, second] = Object.keys(built).sort();
  const sharedBefore = snapshot(path.join(fx.deployPath, "shared"));
  const writableBefore = snapshot(path.join(live, "bootstrap"));
  const r = await run("rollback", "--json");
  assert.equal(r.code, 0, r.stderr);
  const result = json<Result>(r);
  assert.equal(result.release, first);
  assert.ok(result.hosts[0]!.mixedWindow, "a rollback measures its window too");
  assert.deepEqual(code(), built[first!]);
  assert.deepEqual(snapshot(path.join(fx.deployPath, "shared")), sharedBefore);
  assert.deepEqual(snapshot(path.join(live, "bootstrap")), writableBefore);

  const again = await run("rollback", "--to", second!, "--json");
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(code(), built[second!]);
  const history = await run("history", "--json");
  assert.deepEqual(
    json<{ event: string; release: string }[]>(history)
      .map((h) => `${h.event} ${h.release}`)
      .sort(),
    [`deploy ${first}`, `deploy ${second}`, `rollback ${first}`, `rollback ${second}`].sort(),
  );
});

test("builds beyond keep_builds are removed on this machine; anything without cutover's marker stays", async () => {
  const foreign = path.join(buildsDir(), "20200101T000000Z");
  mkdirSync(foreign);
  writeFileSync(path.join(foreign, "mine.txt"), "not cutover's\n");
  fx.file("src/lib.php", "<?php function version() { return 'v3'; }\n");
  const third = await deploy();
  const kept = readdirSync(buildsDir())
    .filter((n) => !n.endsWith(".json"))
    .sort();
  const [, second] = Object.keys(built).sort();
  assert.deepEqual(kept, ["20200101T000000Z", second, third.release].sort());
});

test("a rollback to a release whose build is not kept here fails on one line and changes nothing", async () => {
  const rows = json<{ id: string }[]>(await run("releases", "--json"));
  const oldest = rows.at(-1)!.id;
  const before = snapshot(fx.deployPath);
  const r = await run("rollback", "--to", oldest);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr.split("\n").find((l) => l.startsWith("error:"))!,
    /build of release .* is not kept on this machine/,
  );
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.deepEqual(snapshot(fx.deployPath), before);
});

test("in-place against a releases layout (current is a symlink) is refused on one line; nothing changes anywhere", async () => {
  const other = fixture();
  try {
    other.writeConfig({ strategy: "in-place" });
    mkdirSync(path.join(other.deployPath, "releases/20261101T000000Z"), { recursive: true });
    symlinkSync("releases/20261101T000000Z", path.join(other.deployPath, "current"));
    const before = snapshot(other.deployPath);
    const otherCache = path.join(other.dir, "cache");
    const r = await cutover(["-c", other.config, "deploy"], other.app, { XDG_CACHE_HOME: otherCache });
    assert.equal(r.code, 2);
    const first = r.stderr.split("\n")[0]!;
    assert.match(
      first,
      /^error: local: .*current is a symlink \(the releases layout\), but strategy is in-place$/,
    );
    assert.match(r.stderr, /fix: keep strategy: releases/);
    assert.deepEqual(snapshot(other.deployPath), before);
    assert.ok(!existsSync(otherCache), "no build was made");
  } finally {
    other.cleanup();
  }
});

test("in-place refuses steps that need the new build on the host before it is live, and releases-only commands", async () => {
  const other = fixture();
  try {
    other.writeConfig({ strategy: "in-place", hooks: { build: ["make"] } });
    const r = await cutover(["-c", other.config, "deploy"], other.app, { XDG_CACHE_HOME: other.dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr.split("\n")[0]!, /hooks\.build cannot run with strategy: in-place/);
    assert.ok(!existsSync(other.deployPath));
  } finally {
    other.cleanup();
  }
  for (const command of ["cleanup", "verify"]) {
    const r = await run(command);
    assert.equal(r.code, 2, command);
    assert.match(
      r.stderr.split("\n")[0]!,
      new RegExp(`\`cutover ${command}\` does not apply to strategy: in-place`),
    );
  }
});

test("--dry-run shows the delayed-update upload as the switch and the re-upload as its undo", async () => {
  const before = snapshot(fx.deployPath);
  const r = await run("deploy", "--dry-run");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /switch in place: upload with delayed updates/);
  assert.match(
    r.stdout,
    /rsync .*--delay-updates --delete-delay .*--exclude=\/storage\/uploads --exclude=\/\.env --exclude=\/bootstrap\/cache/,
  );
  assert.match(r.stdout, /undo if any host fails from here on: upload the build that was live\n\s+rsync /);
  assert.deepEqual(snapshot(fx.deployPath), before);
});

test("doctor says what in place costs and when to prefer the symlink strategy", async () => {
  const r = await run("doctor", "--json");
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const findings = json<{ level: string; check: string; message: string; fix: string }[]>(r);
  assert.deepEqual(
    findings.map((f) => `${f.level} ${f.check}`),
    ["warning strategy"],
  );
  assert.match(findings[0]!.message, /serves .*current\/public, updated file by file/);
  assert.match(findings[0]!.fix, /use strategy: releases/);
});

test("doctor: a shared path added after current/ already held it for real is named, with the move that fixes it", async () => {
  // The app wrote data there before the path was declared shared: cutover links only where nothing is.
  mkdirSync(path.join(live, "media"));
  writeFileSync(path.join(live, "media/photo.jpg"), "the app's data");
  fx.writeConfig({ strategy: "in-place", keep_builds: 2, shared_dirs: ["storage/uploads", "media"] });
  try {
    const r = await run("doctor", "--json");
    const findings = json<{ level: string; check: string; message: string; fix: string }[]>(r);
    const shared = findings.filter((f) => f.check === "shared");
    assert.equal(shared.length, 1, r.stdout);
    assert.match(shared[0]!.message, /current\/media is not a link into .*shared\/media/);
    assert.match(shared[0]!.fix, /move its contents into .*shared\/media and remove .*current\/media/);
    assert.equal(
      readFileSync(path.join(live, "media/photo.jpg"), "utf8"),
      "the app's data",
      "doctor moved nothing",
    );
    // A deploy says the same, and leaves the data where it is.
    const deployed = await run("deploy");
    assert.equal(deployed.code, 0, deployed.stderr);
    assert.match(
      deployed.stderr,
      /warning: .*current\/media is not a link into shared\/ \(it was there before media was a shared path\)/,
    );
    assert.equal(readFileSync(path.join(live, "media/photo.jpg"), "utf8"), "the app's data");
  } finally {
    rmSync(path.join(live, "media"), { recursive: true });
    fx.writeConfig({ strategy: "in-place", keep_builds: 2 });
  }
});

test("a failed health check after an in-place upload uploads the previous build again", async () => {
  const before = code();
  const liveBefore = json<{ id: string; hosts: Record<string, { live: boolean }> }[]>(
    await run("releases", "--json"),
  ).find((row) => row.hosts.local!.live)!.id;
  fx.writeConfig({
    strategy: "in-place",
    keep_builds: 2,
    health_check: { command: "false", retries: 1, interval: 0 },
  });
  fx.file("src/lib.php", "<?php function version() { return 'broken'; }\n");
  const r = await run("deploy", "--json");
  assert.equal(r.code, 1, r.stderr);
  const result = json<Result>(r);
  assert.equal(result.hosts[0]!.serving, liveBefore);
  assert.deepEqual(code(), before, "the previous build, byte for byte");
  const rows = json<{ id: string; meta: { state: string } }[]>(await run("releases", "--json"));
  assert.equal(rows.find((row) => row.id === result.release)!.meta.state, "bad");
  assert.ok(!readdirSync(buildsDir()).includes(result.release), "the bad build is not kept");
  fx.writeConfig({ strategy: "in-place", keep_builds: 2 });
});

test("snapshots of shared/ before an in-place deploy, and rollback --restore-shared puts shared/ and the code back", async () => {
  fx.writeConfig({ strategy: "in-place", keep_builds: 2, snapshots: { before_deploy: true, keep: 3 } });
  const codeBefore = code();
  const env = path.join(fx.deployPath, "shared/.env");
  const envBefore = readFileSync(env, "utf8");
  fx.file("src/lib.php", "<?php function version() { return 'v4'; }\n");
  const deployed = await deploy();
  const list = json<{ meta: { reason: string; release: string } }[]>(await run("snapshot", "list", "--json"));
  assert.deepEqual([list[0]!.meta.reason, list[0]!.meta.release], ["before-deploy", deployed.release]);
  writeFileSync(env, "APP_KEY=written by v4\n");
  const r = await run("rollback", "--restore-shared", "--json");
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(code(), codeBefore, "the code of the build before");
  assert.equal(readFileSync(env, "utf8"), envBefore, "and shared/ as it was before the deploy");
  fx.writeConfig({ strategy: "in-place", keep_builds: 2 });
});

test("a writable dir under a symlink the build put in current is refused before anything goes live", async () => {
  const other = fixture();
  try {
    const otherEnv = { XDG_CACHE_HOME: path.join(other.dir, "cache") };
    const outside = path.join(other.dir, "outside");
    mkdirSync(outside);
    symlinkSync(outside, path.join(other.app, "var"));
    other.writeConfig({ strategy: "in-place" });
    assert.equal((await cutover(["-c", other.config, "deploy"], other.app, otherEnv)).code, 0);
    other.writeConfig({ strategy: "in-place", writable_dirs: ["bootstrap/cache", "var/cache"] });
    const before = snapshot(path.join(other.deployPath, "current"));
    const r = await cutover(["-c", other.config, "deploy"], other.app, otherEnv);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /current\/var is a symlink \(to .*outside\); refusing to write through it/);
    assert.deepEqual(readdirSync(outside), [], "nothing written outside");
    assert.deepEqual(snapshot(path.join(other.deployPath, "current")), before);
  } finally {
    other.cleanup();
  }
});

test("a first in-place deploy into a `current` holding files cutover did not put there is refused on one line; nothing changes", async () => {
  const other = fixture();
  try {
    other.writeConfig({ strategy: "in-place" });
    const uploads = path.join(other.deployPath, "current/public/uploads");
    mkdirSync(uploads, { recursive: true });
    writeFileSync(path.join(uploads, "customer.pdf"), "not in any build\n");
    const before = snapshot(other.deployPath);
    const otherCache = path.join(other.dir, "cache");
    const r = await cutover(["-c", other.config, "deploy"], other.app, { XDG_CACHE_HOME: otherCache });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr.split("\n")[0]!,
      /^error: local: .*current holds files cutover did not put there \(no release of cutover's was ever recorded here\)/,
    );
    assert.deepEqual(snapshot(other.deployPath), before, "customer.pdf is still there");
    assert.ok(!existsSync(otherCache), "no build was made");
    const doctor = await cutover(["-c", other.config, "doctor", "--json"], other.app, {
      XDG_CACHE_HOME: otherCache,
    });
    const findings = json<{ level: string; check: string; message: string }[]>(doctor);
    assert.ok(
      findings.some((f) => f.level === "error" && /holds files cutover did not put there/.test(f.message)),
      doctor.stdout,
    );
  } finally {
    other.cleanup();
  }
});
