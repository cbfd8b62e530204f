import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";

/**
 * strategy: git against a hostile host: names planted in .cutover/tmp while a deploy runs, a mirror
 * with symlinks, replacement refs or attributes in it, a symlinked parent of a shared path, and a
 * tag named like the branch. Each must leave the victim untouched and never deploy other content.
 */
const fx = fixture();
after(() => fx.cleanup());
const origin = gitOrigin(path.join(fx.dir, "origin"));
const deployPath = fx.deployPath;
const mirror = path.join(deployPath, ".cutover/repo");
const tmp = path.join(deployPath, ".cutover/tmp");
const live = () => path.basename(realpathSync(path.join(deployPath, "current")));
const read = (p: string) => readFileSync(path.join(deployPath, "current", p), "utf8");
const writeConfig = (extra: Record<string, unknown> = {}) =>
  fx.writeConfig({
    strategy: "git",
    repository: origin.bare,
    ref: "main",
    source: undefined,
    exclude: undefined,
    ...extra,
  });
const deploy = async (args: string[] = [], env: Record<string, string> = {}) => {
  const r = await cutover(["--json", "deploy", ...args], fx.app, env);
  return { ...r, result: json<{ ok: boolean; release: string; error?: { message: string } }>(r) };
};
const mirrorGit = (...args: string[]) =>
  execFileSync("git", ["--git-dir", mirror, ...args], {
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "x",
      GIT_AUTHOR_EMAIL: "x@x",
      GIT_COMMITTER_NAME: "x",
      GIT_COMMITTER_EMAIL: "x@x",
    },
  })
    .toString()
    .trim();

mkdirSync(path.join(deployPath, "shared"), { recursive: true });
writeFileSync(path.join(deployPath, "shared/.env"), "K=v\n");
const v1 = origin.commit(
  { "public/index.php": "<?php echo 'v1';\n", "storage/app/public/logo.txt": "logo\n" },
  "v1",
);

const victim = path.join(fx.dir, "victim.txt");
const victimDir = path.join(fx.dir, "victim dir");
const resetVictims = () => {
  writeFileSync(victim, "precious\n");
  rmSync(victimDir, { recursive: true, force: true });
  mkdirSync(victimDir);
};

/**
 * A watcher on the host, run on every git call: once a release's metadata is there (its id is then
 * known), it plants the names beside the staging directory that extraction used to write through.
 */
const watcher = fakeGit(path.join(fx.dir, "watcher bin"));
function fakeGit(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const real = execFileSync("sh", ["-c", "command -v git"]).toString().trim();
  writeFileSync(
    path.join(dir, "git"),
    `#!/bin/sh
for m in "$PLANT_ROOT"/.cutover/releases/*.json; do
  [ -e "$m" ] || continue
  id=$(basename "$m" .json)
  t="$PLANT_ROOT/.cutover/tmp/git-$id"
  [ -e "$t.tar" ] || [ -L "$t.tar" ] || ln -s "$PLANT_FILE" "$t.tar"
  [ -e "$t.src" ] || [ -L "$t.src" ] || ln -s "$PLANT_DIR" "$t.src"
  if [ -n "$PLANT_STAGING" ] && [ ! -e "$t" ] && [ ! -L "$t" ]; then ln -s "$PLANT_DIR" "$t"; fi
done
exec ${real} "$@"
`,
    { mode: 0o755 },
  );
  return dir;
}
const planting = {
  PATH: `${watcher}:${process.env.PATH}`,
  PLANT_ROOT: deployPath,
  PLANT_FILE: victim,
  PLANT_DIR: victimDir,
};

test("names planted beside the staging directory during a deploy are never written through", async () => {
  writeConfig();
  resetVictims();
  const r = await deploy([], planting);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(read("public/index.php"), "<?php echo 'v1';\n");
  assert.ok(existsSync(path.join(tmp, `git-${r.result.release}.tar`)), "the watcher did plant its names");
  assert.equal(readFileSync(victim, "utf8"), "precious\n", "the archive was not written through the link");
  writeConfig({ submodules: true });
  const sub = await deploy([], planting);
  assert.equal(sub.code, 0, sub.stderr);
  assert.deepEqual(readdirSync(victimDir), [], "the clone was not made through the link");
  assert.equal(readFileSync(victim, "utf8"), "precious\n");
  // The planted links are own-shaped names: the next deploy removes the links, never their targets.
  writeConfig();
  const clean = await deploy();
  assert.equal(clean.code, 0, clean.stderr);
  assert.deepEqual(readdirSync(tmp), []);
  assert.equal(readFileSync(victim, "utf8"), "precious\n");
});

test("a staging directory name taken by a symlink: the deploy refuses, nothing is written through it", async () => {
  writeConfig();
  resetVictims();
  const before = live();
  const env = { ...planting, PLANT_STAGING: "1" };
  const r = await deploy([], env);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /already exists/);
  assert.deepEqual(readdirSync(victimDir), []);
  assert.equal(live(), before);
  const again = await deploy();
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(readdirSync(victimDir), [], "cleanup removed the links, not what they point to");
});

test("a symlink in the mirror (FETCH_HEAD): refused, never written through; doctor reports it", async () => {
  writeConfig();
  resetVictims();
  const before = live();
  if (existsSync(path.join(mirror, "FETCH_HEAD"))) unlinkSync(path.join(mirror, "FETCH_HEAD"));
  symlinkSync(victim, path.join(mirror, "FETCH_HEAD"));
  const r = await deploy();
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /has a symlink inside \(.*FETCH_HEAD\): move it away/);
  assert.equal(readFileSync(victim, "utf8"), "precious\n");
  assert.equal(live(), before);
  const doctor = await cutover(["doctor"], fx.app);
  assert.equal(doctor.code, 1);
  assert.match(
    doctor.stdout + doctor.stderr,
    /\.cutover\/repo has a symlink inside .*FETCH_HEAD.*deploys refuse it/,
  );
  unlinkSync(path.join(mirror, "FETCH_HEAD"));
  // A directory link would take the objects git writes elsewhere.
  symlinkSync(victimDir, path.join(mirror, "objects/zz"));
  const dir = await deploy();
  assert.equal(dir.code, 1, dir.stderr);
  assert.match(dir.stderr, /has a symlink inside \(.*objects\/zz\)/);
  assert.deepEqual(readdirSync(victimDir), []);
  unlinkSync(path.join(mirror, "objects/zz"));
  const ok = await deploy();
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(!existsSync(path.join(mirror, "FETCH_HEAD")), "fetch writes no FETCH_HEAD");
});

test("replacement refs, attributes or alternates in the mirror: refused, the commit's own content only", async () => {
  writeConfig();
  const before = live();
  // A commit whose tree holds a web shell, and a replace ref that swaps it in for the deployed commit.
  const blob = execFileSync("git", ["--git-dir", mirror, "hash-object", "-w", "--stdin"], {
    input: "<?php system($_GET['c']);\n",
  })
    .toString()
    .trim();
  const inner = execFileSync("git", ["--git-dir", mirror, "mktree"], {
    input: `100644 blob ${blob}\tindex.php\n`,
  })
    .toString()
    .trim();
  const tree = execFileSync("git", ["--git-dir", mirror, "mktree"], {
    input: `040000 tree ${inner}\tpublic\n`,
  })
    .toString()
    .trim();
  const evil = mirrorGit("commit-tree", tree, "-m", "evil");
  mirrorGit("replace", v1, evil);
  for (const packed of [false, true]) {
    if (packed) mirrorGit("pack-refs", "--all", "--prune");
    const r = await deploy(["--ref", v1]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /has refs\/replace.*which cutover did not write: move it away/);
    assert.equal(live(), before);
  }
  const doctor = await cutover(["doctor"], fx.app);
  assert.match(
    doctor.stdout + doctor.stderr,
    /has refs\/replace\/?, which cutover did not write: deploys refuse it/,
  );
  mirrorGit("replace", "-d", v1);
  for (const [file, content] of [
    ["info/attributes", "public/index.php export-ignore\n"],
    ["objects/info/alternates", `${path.join(fx.dir, "elsewhere.git/objects")}\n`],
    ["shallow", `${v1}\n`],
  ] as const) {
    mkdirSync(path.dirname(path.join(mirror, file)), { recursive: true });
    writeFileSync(path.join(mirror, file), content);
    const r = await deploy(["--ref", v1]);
    assert.equal(r.code, 1, `${file}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`has ${file}, which cutover did not write`));
    unlinkSync(path.join(mirror, file));
  }
  const ok = await deploy(["--ref", v1]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(read("public/index.php"), "<?php echo 'v1';\n");
});

test("a shared path's parent that is a symlink: never seeded through it", async () => {
  writeConfig({ shared_dirs: ["storage/app/public"] });
  resetVictims();
  const before = live();
  rmSync(path.join(deployPath, "shared/storage"), { recursive: true, force: true });
  symlinkSync(victimDir, path.join(deployPath, "shared/storage"));
  const r = await deploy();
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /shared\/storage is a symlink .*refusing to write through it/);
  // (The shared parents' mkdir -p of every strategy follows links, by design: shared/storage may be
  // a link to a data disk. What matters is that no content is copied through it.)
  assert.ok(!existsSync(path.join(victimDir, "app/public")), "nothing seeded through the link");
  assert.equal(live(), before);
  unlinkSync(path.join(deployPath, "shared/storage"));
  const ok = await deploy();
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(readFileSync(path.join(deployPath, "shared/storage/app/public/logo.txt"), "utf8"), "logo\n");
  assert.deepEqual(
    readdirSync(path.join(deployPath, "shared/storage/app")),
    ["public"],
    "no seed temp name is left",
  );
});

test("a tag named like the branch: refused as ambiguous; the full ref name chooses", async () => {
  writeConfig();
  const v2 = origin.commit({ "public/index.php": "<?php echo 'v2';\n" }, "v2");
  origin.git("tag", "main", v1);
  origin.git("push", "-q", "origin", "refs/tags/main");
  const before = live();
  const r = await deploy();
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.result.error!.message, /ref "main" is both a branch and a tag of /);
  assert.match(r.stderr, /refs\/heads\/main or refs\/tags\/main/);
  assert.equal(live(), before);
  const branch = await deploy(["--ref", "refs/heads/main"]);
  assert.equal(branch.code, 0, branch.stderr);
  assert.equal(read("public/index.php"), "<?php echo 'v2';\n");
  assert.match(v2, /^[0-9a-f]{40}$/);
});

test("a commit whose tree has a symlink above a shared dir: nothing outside the release is seeded into shared/", async () => {
  // The test before leaves a tag named main: the branch is named in full.
  writeConfig({ shared_dirs: ["data/app"], ref: "refs/heads/main" });
  if (origin.git("tag", "--list", "main")) origin.git("tag", "-d", "main");
  resetVictims();
  mkdirSync(path.join(victimDir, "app"));
  writeFileSync(path.join(victimDir, "app/secret.txt"), "outside the release\n");
  const before = live();
  const work = origin.git("rev-parse", "--show-toplevel");
  symlinkSync(victimDir, path.join(work, "data"));
  origin.commit({}, "data is a symlink out of the tree");
  const r = await deploy();
  assert.notEqual(r.code, 0, r.stderr);
  assert.match(r.stderr, /data is a symlink/);
  // (shared/data itself is made by the shared parents' mkdir -p, as in the test above.)
  assert.ok(!existsSync(path.join(deployPath, "shared/data/app")), "nothing seeded from outside the release");
  assert.equal(live(), before);
  unlinkSync(path.join(work, "data"));
  origin.commit({}, "data is gone");
});
