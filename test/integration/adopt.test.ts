import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { fakeBin } from "../helpers/bin.js";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { snapshot } from "../helpers/tree.js";

/** Deploy paths laid out the way Capistrano, Deployer and Envoyer lay them out, adopted by cutover. */
const fx = fixture();
after(() => fx.cleanup());
const live = (p: string) => path.basename(realpathSync(path.join(p, "current")));
interface Row {
  id: string;
  meta: { state: string; adopted?: { tool: string }; revision: { commit: string } | null };
}

/** A release directory with the fixture app's files (as the other tool would have uploaded them). */
function release(root: string, name: string, links: Record<string, string>, revision?: string): string {
  const dir = path.join(root, "releases", name);
  mkdirSync(dir, { recursive: true });
  for (const f of ["public/index.php", "src/lib.php"]) cpSync(path.join(fx.app, f), path.join(dir, f));
  for (const [at, target] of Object.entries(links)) {
    mkdirSync(path.dirname(path.join(dir, at)), { recursive: true });
    symlinkSync(target, path.join(dir, at));
  }
  if (revision) writeFileSync(path.join(dir, "REVISION"), `${revision}\n`);
  return dir;
}

/** Everything except cutover's own bookkeeping and the releases it adds. */
function outsideCutover(root: string): Map<string, string> {
  return new Map([...snapshot(root)].filter(([p]) => !p.startsWith(".cutover")));
}

function config(root: string, extra: Record<string, unknown> = {}) {
  fx.writeConfig({ upload: { compare: "checksum" }, keep_releases: 2, ...extra }, [{ path: root }]);
}

test("Capistrano: timestamped releases, absolute current, REVISION files, revisions.log", async () => {
  const root = path.join(fx.dir, "capistrano app");
  mkdirSync(path.join(root, "shared/storage/uploads"), { recursive: true });
  writeFileSync(path.join(root, "shared/storage/uploads/photo.jpg"), "a user's photo");
  writeFileSync(path.join(root, "shared/.env"), "APP_KEY=cap\n");
  const links = {
    "storage/uploads": path.join(root, "shared/storage/uploads"),
    ".env": path.join(root, "shared/.env"),
  };
  release(root, "20240101120000", links, "aaaaaaa1");
  release(root, "20240102120000", links, "bbbbbbb2");
  release(root, "20240103120000", links, "ccccccc3");
  symlinkSync(path.join(root, "releases/20240103120000"), path.join(root, "current"));
  writeFileSync(
    path.join(root, "revisions.log"),
    "Branch main (at ccccccc3) deployed as release 20240103120000 by deploy\n",
  );
  config(root);
  const before = outsideCutover(root);
  const noWebConfigs = path.join(fx.dir, "no web configs");
  mkdirSync(noWebConfigs, { recursive: true });
  const doc = await cutover(["doctor", "--web-config", noWebConfigs], fx.app);
  assert.match(
    doc.stdout,
    /releases\/ holds 3 release\(s\) cutover did not make[^\n]*\n\s*fix: run `cutover adopt`/,
  );

  const dry = await cutover(["--dry-run", "adopt"], fx.app);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(
    dry.stdout,
    /would adopt 20240101120000, 20240102120000, 20240103120000 \(made by capistrano\)/,
  );
  const a = await cutover(["adopt"], fx.app);
  assert.equal(a.code, 0, a.stderr);
  assert.deepEqual(outsideCutover(root), before, "adopt moved nothing");
  const rows = json<Row[]>(await cutover(["--json", "releases"], fx.app));
  assert.deepEqual(
    rows.map((r) => [r.id, r.meta.state, r.meta.adopted?.tool, r.meta.revision?.commit]),
    [
      ["20240103120000", "live", "capistrano", "ccccccc3"],
      ["20240102120000", "superseded", "capistrano", "bbbbbbb2"],
      ["20240101120000", "superseded", "capistrano", "aaaaaaa1"],
    ],
  );

  fx.writeConfig({ upload: { compare: "checksum" }, keep_releases: 5 }, [{ path: root }]);
  const d = await cutover(["--json", "deploy"], fx.app);
  assert.equal(d.code, 0, d.stderr);
  const id = json<{ release: string }>(d).release;
  // Nothing outside cutover's records and the new release changed.
  const afterDeploy = outsideCutover(root);
  for (const [p, v] of before)
    if (p !== "current" && !p.startsWith(`releases/${id}`))
      assert.equal(afterDeploy.get(p), v, `${p} unchanged`);
  const ino = (rel: string) => statSync(path.join(root, "releases", rel, "src/lib.php")).ino;
  assert.equal(ino(id), ino("20240103120000"), "the first deploy hard-links from the live adopted release");
  assert.equal(readFileSync(path.join(root, "current/storage/uploads/photo.jpg"), "utf8"), "a user's photo");
  // cleanup with keep_releases 2: the new one and its rollback target stay; the two oldest adopted ones go.
  config(root);
  const c = await cutover(["cleanup"], fx.app);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /removed 20240101120000, 20240102120000/);
  assert.ok(existsSync(path.join(root, "releases/20240103120000")));
  assert.ok(!existsSync(path.join(root, "releases/20240101120000")));
  const rb = await cutover(["rollback"], fx.app);
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal(live(root), "20240103120000", "rolled back to the adopted release");
  assert.equal(readlinkSync(path.join(root, "current")), "releases/20240103120000");
});

test("Deployer: numbered releases, .dep/, relative current; order follows the numbers", async () => {
  const root = path.join(fx.dir, "deployer app");
  mkdirSync(path.join(root, "shared/storage/uploads"), { recursive: true });
  writeFileSync(path.join(root, "shared/.env"), "APP_KEY=dep\n");
  mkdirSync(path.join(root, ".dep"));
  writeFileSync(path.join(root, ".dep/latest_release"), "10");
  const links = { "storage/uploads": "../../../shared/storage/uploads", ".env": "../../shared/.env" };
  for (const n of ["9", "10", "8"]) release(root, n, links);
  // A later write touched release 8's directory: its mtime must not make it the newest.
  utimesSync(path.join(root, "releases/8"), new Date(), new Date());
  symlinkSync("releases/10", path.join(root, "current"));
  config(root, { keep_releases: 5 });
  const a = await cutover(["adopt"], fx.app);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /adopted 8, 9, 10 \(made by deployer\)/);
  const rb = await cutover(["--json", "rollback"], fx.app);
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal(live(root), "9", "the release before 10 is 9, by number");
  const to = await cutover(["rollback", "--to", "10"], fx.app);
  assert.equal(to.code, 0, to.stderr);
  assert.equal(live(root), "10");
});

test("Envoyer: storage/ and .env in the deploy path are linked from shared/, never moved", async () => {
  const root = path.join(fx.dir, "envoyer app");
  mkdirSync(path.join(root, "storage/uploads"), { recursive: true });
  writeFileSync(path.join(root, "storage/uploads/doc.pdf"), "an upload");
  writeFileSync(path.join(root, ".env"), "APP_KEY=env\n");
  const links = { storage: path.join(root, "storage"), ".env": path.join(root, ".env") };
  release(root, "20240101120000", links);
  release(root, "20240102120000", links);
  symlinkSync(path.join(root, "releases/20240102120000"), path.join(root, "current"));
  config(root, { shared_dirs: ["storage"], shared_files: [".env"] });
  const before = outsideCutover(root);
  const a = await cutover(["adopt"], fx.app);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /made by envoyer/);
  assert.match(a.stdout, /shared\/storage links to storage in the deploy path/);
  const after_ = outsideCutover(root);
  for (const [p, v] of before) assert.equal(after_.get(p), v, `${p} unchanged`);
  assert.equal(after_.get("shared/storage"), "link ../storage");
  const d = await cutover(["deploy"], fx.app);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(readFileSync(path.join(root, "current/storage/uploads/doc.pdf"), "utf8"), "an upload");
  assert.equal(readFileSync(path.join(root, "current/.env"), "utf8"), "APP_KEY=env\n");
});

test("by hand: `adopt --migrate` makes the current directory a release in one atomic exchange", async () => {
  const root = path.join(fx.dir, "hand made app");
  mkdirSync(path.join(root, "current/public"), { recursive: true });
  writeFileSync(path.join(root, "current/public/index.php"), "<?php echo 'by hand';");
  config(root, { shared_dirs: [], shared_files: [] });
  const refused = await cutover(["adopt"], fx.app);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /is a real directory.*\n.*\n?.*--migrate/);
  const m = await cutover(["adopt", "--migrate"], fx.app);
  assert.equal(m.code, 0, m.stderr);
  const id = live(root);
  assert.match(id, /^\d{8}T\d{6}Z$/);
  assert.equal(readlinkSync(path.join(root, "current")), `releases/${id}`);
  assert.equal(readFileSync(path.join(root, "current/public/index.php"), "utf8"), "<?php echo 'by hand';");
  assert.ok(statSync(path.join(root, "current.before-cutover")).isDirectory(), "the old directory is kept");
  const d = await cutover(["deploy"], fx.app);
  assert.equal(d.code, 0, d.stderr);
  const rb = await cutover(["rollback"], fx.app);
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal(live(root), id);
});

test("adopt --migrate that cannot exchange removes only the copy it made; a taken release name or leftover is refused first", async () => {
  const root = path.join(fx.dir, "hand made, no exchange");
  mkdirSync(path.join(root, "current/public"), { recursive: true });
  writeFileSync(path.join(root, "current/public/index.php"), "<?php echo 'still serving';");
  config(root, { shared_dirs: [], shared_files: [] });
  const before = snapshot(path.join(root, "current"));
  // perl (the exchange) fails on this host: the hard-linked copy made just before is removed again.
  const bin = fakeBin(path.join(fx.dir, "no-perl-bin"), ["perl"], { perl: "exit 1" });
  const r = await cutover(["adopt", "--migrate"], fx.app, { PATH: bin });
  assert.equal(r.code, 1, r.stderr);
  assert.ok(statSync(path.join(root, "current")).isDirectory(), "current is still the directory");
  assert.deepEqual(snapshot(path.join(root, "current")), before);
  assert.deepEqual(readdirSync(path.join(root, "releases")), [], "the copy is gone");
  assert.deepEqual(readdirSync(path.join(root, ".cutover/releases")), [], "and its metadata");
  // Names that are already there are never overwritten or removed.
  mkdirSync(path.join(root, "current.before-cutover"));
  writeFileSync(path.join(root, "current.before-cutover/keep"), "someone's");
  const taken = await cutover(["adopt", "--migrate"], fx.app);
  assert.equal(taken.code, 1, taken.stderr);
  assert.match(taken.stderr, /current\.before-cutover exists; move it away first/);
  assert.equal(readFileSync(path.join(root, "current.before-cutover/keep"), "utf8"), "someone's");
  assert.deepEqual(snapshot(path.join(root, "current")), before);
});

test("Deployer: a name adopt skips (not a safe name) does not turn the numbers' order into text order", async () => {
  const root = path.join(fx.dir, "deployer app, stray dir");
  mkdirSync(path.join(root, ".dep"), { recursive: true });
  for (const n of ["9", "10", "8"]) release(root, n, {});
  // Someone's copy with a space in its name: skipped, and it must not change how 8, 9, 10 sort.
  mkdirSync(path.join(root, "releases/old copy"));
  utimesSync(path.join(root, "releases/8"), new Date(), new Date());
  symlinkSync("releases/10", path.join(root, "current"));
  config(root, { keep_releases: 5, shared_dirs: [], shared_files: [] });
  const a = await cutover(["adopt"], fx.app);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /adopted 8, 9, 10 \(made by deployer\)/);
  const rb = await cutover(["rollback"], fx.app);
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal(live(root), "9", "the release before 10 is 9, by number");
  assert.ok(existsSync(path.join(root, "releases/old copy")), "the skipped name is left alone");
});

test("adopt --migrate killed right after its exchange: the release current links to is recorded, so the next deploy has it as rollback target", async () => {
  const root = path.join(fx.dir, "hand made, killed after the exchange");
  mkdirSync(path.join(root, "current/public"), { recursive: true });
  writeFileSync(path.join(root, "current/public/index.php"), "<?php echo 'by hand';");
  config(root, { shared_dirs: [], shared_files: [] });
  // The host's shell dies the moment the exchange is done (perl returns, the script is killed).
  const bin = fakeBin(path.join(fx.dir, "perl-then-killed-bin"), ["perl"], {
    perl: '/usr/bin/perl "$@"; st=$?; kill -KILL $PPID; exit $st',
  });
  const killed = await cutover(["adopt", "--migrate"], fx.app, { PATH: bin });
  assert.notEqual(killed.code, 0, "the step was killed");
  const id = live(root);
  assert.match(id, /^\d{8}T\d{6}Z$/, "the exchange happened");
  const again = await cutover(["adopt"], fx.app);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /left in \.cutover\/tmp\/migrate is now current\.before-cutover/);
  assert.equal(
    readFileSync(path.join(root, "current.before-cutover/public/index.php"), "utf8"),
    "<?php echo 'by hand';",
    "the old directory is where a whole run leaves it",
  );
  const rows = json<Row[]>(await cutover(["--json", "releases"], fx.app));
  assert.deepEqual(
    rows.map((r) => [r.id, r.meta.adopted?.tool]),
    [[id, "manual"]],
    "the migrated release is known",
  );
  const d = await cutover(["deploy"], fx.app);
  assert.equal(d.code, 0, d.stderr);
  const rb = await cutover(["rollback"], fx.app);
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal(live(root), id, "rolled back to the migrated release");
  assert.equal(readFileSync(path.join(root, "current/public/index.php"), "utf8"), "<?php echo 'by hand';");
});

test("adopt --migrate killed before its exchange: current stays the directory, cleanup removes the copy, a second run migrates", async () => {
  const root = path.join(fx.dir, "hand made, killed before the exchange");
  mkdirSync(path.join(root, "current/public"), { recursive: true });
  writeFileSync(path.join(root, "current/public/index.php"), "<?php echo 'by hand';");
  config(root, { shared_dirs: [], shared_files: [] });
  const before = snapshot(path.join(root, "current"));
  const bin = fakeBin(path.join(fx.dir, "killed-before-perl-bin"), ["perl"], { perl: "kill -KILL $PPID" });
  const killed = await cutover(["adopt", "--migrate"], fx.app, { PATH: bin });
  assert.notEqual(killed.code, 0, "the step was killed");
  assert.deepEqual(snapshot(path.join(root, "current")), before, "current is still the directory");
  const again = await cutover(["adopt", "--migrate"], fx.app);
  assert.equal(again.code, 1, again.stderr);
  assert.match(again.stderr, /exists \(if a killed adopt --migrate left it, cutover cleanup removes it\)/);
  const c = await cutover(["cleanup"], fx.app);
  assert.equal(c.code, 0, c.stderr);
  assert.deepEqual(readdirSync(path.join(root, "releases")), [], "the copy is gone");
  const m = await cutover(["adopt", "--migrate"], fx.app);
  assert.equal(m.code, 0, m.stderr);
  assert.equal(readFileSync(path.join(root, "current/public/index.php"), "utf8"), "<?php echo 'by hand';");
});

test("adopt --migrate whose hard-link copy fails (a file it may not link) removes that partial copy, so a later run is not blocked", async () => {
  const root = path.join(fx.dir, "hand made, copy fails");
  mkdirSync(path.join(root, "current/public"), { recursive: true });
  writeFileSync(path.join(root, "current/public/index.php"), "<?php echo 'by hand';");
  // Hand-made layouts link data kept elsewhere: the removal of the copy takes the link, not the data.
  const data = path.join(fx.dir, "uploads kept elsewhere");
  mkdirSync(path.join(data, "2024"), { recursive: true });
  writeFileSync(path.join(data, "2024/photo.jpg"), "jpeg");
  symlinkSync(data, path.join(root, "current/uploads"));
  const dataBefore = snapshot(data);
  config(root, { shared_dirs: [], shared_files: [] });
  const before = snapshot(path.join(root, "current"));
  // As with fs.protected_hardlinks and a file of www-data's: cp links what it may, then fails.
  const bin = fakeBin(path.join(fx.dir, "cp-fails-bin"), ["cp"], { cp: '/bin/cp "$@"; exit 1' });
  const r = await cutover(["adopt", "--migrate"], fx.app, { PATH: bin });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /copying current with hard links failed/);
  assert.deepEqual(snapshot(path.join(root, "current")), before, "current is untouched");
  assert.deepEqual(readdirSync(path.join(root, "releases")), [], "the partial copy is gone");
  assert.deepEqual(snapshot(data), dataBefore, "the data the link points to is untouched");
  const m = await cutover(["adopt", "--migrate"], fx.app);
  assert.equal(m.code, 0, m.stderr);
  assert.equal(readFileSync(path.join(root, "current/public/index.php"), "utf8"), "<?php echo 'by hand';");
});

test("Capistrano: a release newer than the live one (a deploy that failed before its switch) is never a rollback target", async () => {
  const root = path.join(fx.dir, "capistrano app, failed deploy");
  release(root, "20240101120000", {}, "aaaaaaa1");
  release(root, "20240102120000", {}, "bbbbbbb2");
  // Capistrano's deploy of ccccccc3 failed before deploy:symlink:release: its directory stays.
  const failed = release(root, "20240103120000", {}, "ccccccc3");
  writeFileSync(path.join(failed, "src/lib.php"), "<?php // half written");
  symlinkSync(path.join(root, "releases/20240102120000"), path.join(root, "current"));
  config(root, { keep_releases: 5, shared_dirs: [], shared_files: [] });
  const a = await cutover(["adopt"], fx.app);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /note: 20240103120000 is newer than the live release, so it never went live/);
  const d = await cutover(["deploy"], fx.app);
  assert.equal(d.code, 0, d.stderr);
  const rb = await cutover(["rollback"], fx.app);
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal(live(root), "20240102120000", "back to the release that was live, not the failed one");
  const to = await cutover(["rollback", "--to", "20240103120000"], fx.app);
  assert.notEqual(to.code, 0, "the release that never went live is no target");
  assert.equal(live(root), "20240102120000");
  const c = await cutover(["cleanup"], fx.app);
  assert.equal(c.code, 0, c.stderr);
  assert.ok(!existsSync(failed), "cleanup removed it");
  assert.ok(existsSync(path.join(root, "releases/20240101120000")), "kept: keep_releases 5");
});
