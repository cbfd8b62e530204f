import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";
import { assertCurrentComplete, snapshot } from "../helpers/tree.js";

interface Result {
  ok: boolean;
  release: string;
  error?: { message: string };
}
interface Meta {
  state: string;
  revision: {
    commit: string;
    dirty: boolean;
    ref?: string;
    author?: string;
    date?: string;
    subject?: string;
  };
}

const fx = fixture();
after(() => fx.cleanup());
const origin = gitOrigin(path.join(fx.dir, "origin"));
const deployPath = fx.deployPath;
const live = () => path.basename(realpathSync(path.join(deployPath, "current")));
const meta = (id: string): Meta =>
  JSON.parse(readFileSync(path.join(deployPath, ".cutover/releases", `${id}.json`), "utf8")) as Meta;
const read = (p: string) => readFileSync(path.join(deployPath, "current", p), "utf8");
const writeConfig = (extra: Record<string, unknown> = {}) =>
  fx.writeConfig({
    strategy: "git",
    repository: path.relative(fx.app, origin.bare),
    ref: "main",
    source: undefined,
    exclude: undefined,
    ...extra,
  });
const deploy = async (...args: string[]) => {
  const r = await cutover(["--json", "deploy", ...args], fx.app);
  return { ...r, result: json<Result>(r) };
};

// A shared file is never taken from the repository: it is put on the host, as a deploy's .env is.
mkdirSync(path.join(deployPath, "shared"), { recursive: true });
writeFileSync(path.join(deployPath, "shared/.env"), "APP_KEY=on-the-host\n");

const v1 = origin.commit(
  {
    "public/index.php": "<?php echo 'v1';\n",
    "src/big.php": `<?php // ${"x".repeat(20000)}\n`,
    "storage/uploads/.gitkeep": "",
    "app/public/index.php": "<?php echo 'sub v1';\n",
  },
  "first: v1",
);

test("a branch: the exact commit is extracted, its details recorded; shared paths seeded from it", async () => {
  writeConfig({ hooks: { build: ['printf "%s" "$(cat public/index.php)" > built.txt'] } });
  const r = await deploy();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(live(), r.result.release);
  assert.equal(read("public/index.php"), "<?php echo 'v1';\n");
  assert.equal(read("built.txt"), "<?php echo 'v1';", "hooks.build ran in the extracted release");
  const mode = (p: string) => (statSync(path.join(deployPath, "current", p)).mode & 0o777).toString(8);
  assert.deepEqual([mode("public/index.php"), mode("public")], ["644", "755"], "code is not group-writable");
  assert.ok(
    statSync(path.join(deployPath, "current/bootstrap/cache")).isDirectory(),
    "writable dirs are made",
  );
  assert.match(
    r.stderr,
    new RegExp(`origin ü\\.git: refs/heads/main → ${v1}\n`),
    "the resolved commit is shown",
  );
  const m = meta(r.result.release);
  assert.equal(m.revision.commit, v1);
  assert.equal(m.revision.dirty, false);
  assert.equal(m.revision.ref, "refs/heads/main");
  assert.equal(m.revision.author, "Ada Author <ada@example.test>");
  assert.equal(m.revision.subject, "first: v1");
  assert.match(m.revision.date ?? "", /^\d{4}-\d\d-\d\dT/);
  // The mirror is a bare repository of its own; no checkout exists anywhere on the host.
  const mirror = path.join(deployPath, ".cutover/repo");
  assert.equal(
    execFileSync("git", ["--git-dir", mirror, "rev-parse", "--is-bare-repository"]).toString().trim(),
    "true",
  );
  assert.ok(!existsSync(path.join(deployPath, "current/.git")));
  assert.deepEqual(
    readdirSync(path.join(deployPath, ".cutover/tmp")),
    [],
    "the staging directory is removed",
  );
  // storage/uploads is a shared dir: a link in the release, seeded from the commit.
  assert.ok(existsSync(path.join(deployPath, "shared/storage/uploads/.gitkeep")));
  assertCurrentComplete(deployPath, ["bootstrap/cache"]);
});

test("a new commit: only what is new is fetched, unchanged files are hard links to the previous release", async () => {
  const before = live();
  const v2 = origin.commit({ "public/index.php": "<?php echo 'v2';\n" }, "second: v2");
  const r = await deploy();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(meta(r.result.release).revision.commit, v2);
  assert.equal(read("public/index.php"), "<?php echo 'v2';\n");
  const inode = (id: string, p: string) => statSync(path.join(deployPath, "releases", id, p)).ino;
  assert.equal(inode(r.result.release, "src/big.php"), inode(before, "src/big.php"), "unchanged: same inode");
  assert.notEqual(inode(r.result.release, "public/index.php"), inode(before, "public/index.php"));
  const v = await cutover(["--json", "verify"], fx.app);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});

test("a tag (annotated) and a commit id via --ref", async () => {
  origin.tag("v2.0");
  const tagged = await deploy("--ref", "v2.0");
  assert.equal(tagged.code, 0, tagged.stderr);
  assert.equal(meta(tagged.result.release).revision.ref, "refs/tags/v2.0");
  assert.equal(read("public/index.php"), "<?php echo 'v2';\n");
  const byId = await deploy("--ref", v1);
  assert.equal(byId.code, 0, byId.stderr);
  assert.equal(meta(byId.result.release).revision.commit, v1);
  assert.equal(meta(byId.result.release).revision.ref, undefined);
  assert.equal(read("public/index.php"), "<?php echo 'v1';\n");
});

test("after a force-push the rewritten branch is deployed", async () => {
  const rewritten = origin.forcePush(v1, { "public/index.php": "<?php echo 'rewritten';\n" }, "rewritten");
  const r = await deploy();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(meta(r.result.release).revision.commit, rewritten);
  assert.equal(read("public/index.php"), "<?php echo 'rewritten';\n");
});

test("git's lock files that a killed fetch left in the mirror are removed by the next deploy, which fetches the new commit", async () => {
  const repo = path.join(deployPath, ".cutover/repo");
  // A SIGKILLed `git fetch` leaves the lock of each ref it was updating (git refuses the ref after).
  writeFileSync(path.join(repo, "refs/heads/main.lock"), "");
  writeFileSync(path.join(repo, "packed-refs.lock"), "");
  const v3 = origin.commit({ "public/index.php": "<?php echo 'v3';\n" }, "third: v3");
  const r = await deploy();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(meta(r.result.release).revision.commit, v3);
  assert.equal(read("public/index.php"), "<?php echo 'v3';\n");
  assert.equal(existsSync(path.join(repo, "refs/heads/main.lock")), false);
  assert.equal(existsSync(path.join(repo, "packed-refs.lock")), false);
});

test("repository_path deploys a sub-directory", async () => {
  writeConfig({ repository_path: "app" });
  const r = await deploy();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(read("public/index.php"), "<?php echo 'sub v1';\n");
  assert.ok(!existsSync(path.join(deployPath, "current/src")));
  writeConfig({ repository_path: "no/such/dir" });
  const bad = await deploy();
  assert.equal(bad.code, 1);
  assert.match(bad.result.error!.message, /extract commit/);
  assert.match(bad.stderr, /not a directory of the repository/);
  assert.equal(live(), r.result.release, "nothing switched");
});

test("unknown ref, abbreviated id, unreachable repository: a clear error, nothing changed on the host", async () => {
  writeConfig();
  const before = snapshot(deployPath);
  const unknown = await deploy("--ref", "no-such-branch");
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.result.error!.message,
    /ref "no-such-branch" is not a branch or tag of .*origin ü\.git/,
  );
  const short = await deploy("--ref", v1.slice(0, 10));
  assert.equal(short.code, 2);
  assert.match(short.stderr, /full 40-character id/);
  writeConfig({ repository: "../no such repo.git" });
  const gone = await deploy();
  assert.equal(gone.code, 1);
  assert.match(gone.result.error!.message, /cannot read repository .*no such repo\.git/);
  assert.doesNotMatch(gone.stderr, /at .*\.js:\d+/, "no stack trace");
  const doctor = await cutover(["doctor"], fx.app);
  assert.equal(doctor.code, 1);
  assert.match(doctor.stdout + doctor.stderr, /local: cannot read repository .*no such repo\.git/);
  assert.match(doctor.stdout + doctor.stderr, /the host's git cannot read .*no such repo\.git: fatal: /);
  assert.deepEqual(snapshot(deployPath), before, "the deploy path is exactly as it was");
});

test("a commit id that the repository does not have: every host refuses in prepare", async () => {
  writeConfig();
  const before = live();
  const r = await deploy("--ref", "0123456789abcdef0123456789abcdef01234567");
  assert.equal(r.code, 1);
  assert.match(r.result.error!.message, /fetch repository mirror failed/);
  assert.match(r.stderr, /commit 0123456789abcdef0123456789abcdef01234567 is not in/);
  assert.equal(live(), before);
});

test("hostile mirror state: a symlinked or foreign .cutover/repo is refused, never followed", async () => {
  writeConfig();
  const before = live();
  const mirror = path.join(deployPath, ".cutover/repo");
  const moved = path.join(fx.dir, "real mirror");
  execFileSync("mv", ["-T", mirror, moved]);
  symlinkSync(moved, mirror);
  const linked = await deploy();
  assert.equal(linked.code, 1);
  assert.match(linked.stderr, /is a symlink; cutover does not follow it/);
  execFileSync("rm", [mirror]);
  const other = path.join(fx.dir, "other");
  mkdirSync(other);
  execFileSync("git", ["init", "-q", "--bare", mirror]);
  execFileSync("git", ["--git-dir", mirror, "config", "cutover.origin", "https://elsewhere.test/x.git"]);
  const foreign = await deploy();
  assert.equal(foreign.code, 1);
  assert.match(foreign.stderr, /mirrors another repository \(https:\/\/elsewhere\.test\/x\.git\)/);
  const doctor = await cutover(["doctor"], fx.app);
  assert.equal(doctor.code, 1);
  assert.match(
    doctor.stdout + doctor.stderr,
    /\.cutover\/repo mirrors another repository \(https:\/\/elsewhere\.test\/x\.git\)/,
  );
  assert.equal(live(), before);
  execFileSync("rm", ["-rf", mirror]);
  execFileSync("mv", ["-T", moved, mirror]);
  // Our own mirror with a setting that would run a command on fetch: refused, and the command never runs.
  const ran = path.join(fx.dir, "ssh command ran");
  execFileSync("git", ["--git-dir", mirror, "config", "core.sshCommand", `touch '${ran}'`]);
  execFileSync("git", ["--git-dir", mirror, "config", "url.file:///elsewhere.insteadOf", origin.bare]);
  const tampered = await deploy();
  assert.equal(tampered.code, 1);
  assert.match(
    tampered.stderr,
    /has settings cutover did not write \(core\.sshcommand url\.file:\/\/\/elsewhere\.insteadof \)/,
  );
  assert.ok(!existsSync(ran));
  execFileSync("git", ["--git-dir", mirror, "config", "--unset", "core.sshCommand"]);
  execFileSync("git", ["--git-dir", mirror, "config", "--remove-section", "url.file:///elsewhere"]);
  const again = await deploy();
  assert.equal(again.code, 0, again.stderr);
  const healthy = await cutover(["doctor"], fx.app);
  assert.doesNotMatch(
    healthy.stdout + healthy.stderr,
    /git/,
    "a healthy mirror and repository: no git finding",
  );
});

test("what an interrupted git deploy leaves in .cutover/tmp is removed by the next; other names are left alone", async () => {
  writeConfig();
  const tmp = path.join(deployPath, ".cutover/tmp");
  for (const name of ["git-20200101T000000Z", "git-20200101T000000Z.src", "git-mirror.AbC123", "git-mine"])
    mkdirSync(path.join(tmp, name), { recursive: true });
  writeFileSync(path.join(tmp, "git-20200101T000000Z.tar"), "partial archive");
  const r = await deploy();
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(tmp), ["git-mine"]);
  assert.match(
    r.stderr,
    /removing temporary git-20200101T000000Z, git-20200101T000000Z\.src, git-20200101T000000Z\.tar, git-mirror\.AbC123/,
  );
});

test("--dry-run shows the git steps and changes nothing; a token in the URL is never printed", async () => {
  writeConfig();
  const before = snapshot(deployPath);
  const r = await cutover(["deploy", "--dry-run"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /fetch repository mirror/);
  assert.match(r.stdout, /extract commit [0-9a-f]{12}/);
  assert.match(r.stdout, /git archive into staging/);
  writeConfig({ repository: "https://x-token:s3cr3t-t0ken-value@127.0.0.1:1/repo.git" });
  const secret = await cutover(["deploy", "--dry-run"], fx.app);
  assert.notEqual(secret.code, 0);
  assert.doesNotMatch(secret.stdout + secret.stderr, /s3cr3t-t0ken-value/);
  assert.match(secret.stderr, /https:\/\/127\.0\.0\.1:1\/repo\.git/);
  // With a commit id nothing is resolved: the plan itself holds the URL, and prints it redacted.
  const planned = await cutover(["deploy", "--dry-run", "--ref", "a".repeat(40)], fx.app);
  assert.equal(planned.code, 0, planned.stderr);
  assert.match(planned.stdout, /fetch into the mirror/);
  assert.doesNotMatch(planned.stdout + planned.stderr, /s3cr3t-t0ken-value/);
  assert.match(planned.stdout, /https:\/\/127\.0\.0\.1:1\/repo\.git/);
  assert.deepEqual(snapshot(deployPath), before);
});

test("config: git keys without strategy: git, and strategy: git without repository, are errors", async () => {
  fx.writeConfig({ ref: "main" });
  const stray = await cutover(["deploy"], fx.app);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /ref is only used with strategy: git/);
  fx.writeConfig({});
  const ref = await cutover(["deploy", "--ref", "main"], fx.app);
  assert.equal(ref.code, 2);
  assert.match(ref.stderr, /--ref is only for strategy: git \(stage test uses releases\)/);
  fx.writeConfig({ strategy: "git" });
  const missing = await cutover(["deploy"], fx.app);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /strategy: git needs repository/);
});
