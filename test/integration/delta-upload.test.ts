import assert from "node:assert/strict";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { sshHost, sshRig } from "../helpers/sshd.js";

/**
 * The delta upload (plan/delta.ts): unchanged content is linked from the previous release even when
 * every mtime changed (a fresh checkout), only the rest is sent, and a previous release in a state
 * cutover did not make (a directory turned into a link, a file turned into a directory) is never
 * trusted: the host says so and every file is sent, linking none.
 */
interface Result {
  release: string;
  previous: string | null;
  filesTransferred: number;
}

const fx = fixture();
after(() => fx.cleanup());
const rel = (id: string, p = "") => path.join(fx.deployPath, "releases", id, p);

async function deploy(app = fx.app): Promise<Result & { warned: string[] }> {
  const r = await cutover(["--json", "deploy"], app);
  assert.equal(r.code, 0, r.stderr);
  return { ...json<Result>(r), warned: r.stderr.split("\n").filter((l) => l.startsWith("warning:")) };
}

/** Every file and symlink under dir: path → content or link target. */
function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      const key = path.relative(dir, full);
      if (e.isDirectory()) walk(full);
      else if (e.isFile()) out.set(key, readFileSync(full, "latin1"));
      else out.set(key, `-> ${e.name}`);
    }
  };
  walk(dir);
  return out;
}

/** The release holds exactly the source (excludes, shared and writable paths aside). */
function assertSameAsSource(id: string) {
  const skip = (p: string) => /^(\.git|cutover\.yaml|\.env|storage|bootstrap)(\/|$)/.test(p);
  const want = [...tree(fx.app)].filter(([p]) => !skip(p));
  const got = [...tree(rel(id))].filter(([p]) => !skip(p));
  assert.deepEqual(new Map(got), new Map(want));
}

const touchAll = (dir: string, when: Date) => {
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) utimesSync(path.join(e.parentPath, e.name), when, when);
};

let last = "";

test("a fresh checkout (every mtime new) with one edit: one file sent, every other one linked", async () => {
  for (let i = 0; i < 30; i++) fx.file(`src/Mod${i % 3}/Class${i}.php`, `<?php // ${i}\n`);
  symlinkSync("Mod0", path.join(fx.app, "src/Alias"));
  const first = await deploy();
  touchAll(fx.app, new Date(Date.now() + 5000));
  fx.file("src/Mod1/Class4.php", "<?php // edited\n");
  const r = await deploy();
  assert.equal(r.previous, first.release);
  assert.deepEqual(r.warned, []);
  assert.equal(r.filesTransferred, 1);
  for (let i = 0; i < 30; i++) {
    const p = `src/Mod${i % 3}/Class${i}.php`;
    const shared = statSync(rel(r.release, p)).ino === statSync(rel(first.release, p)).ino;
    assert.equal(shared, p !== "src/Mod1/Class4.php", p);
  }
  assertSameAsSource(r.release);
  const verify = await cutover(["verify"], fx.app);
  assert.equal(verify.code, 0, verify.stderr);
  last = r.release;
});

test("a new exclude takes an unchanged file out of the next release", async () => {
  fx.writeConfig({ exclude: [".git", "cutover.yaml", "src/Mod2/"] });
  const r = await deploy();
  assert.deepEqual(r.warned, []);
  assert.ok(!readdirSync(rel(r.release, "src")).includes("Mod2"));
  fx.writeConfig();
  last = (await deploy()).release;
});

test("a file of the previous release edited in place (same inode, same size): seen, every file sent", async () => {
  const target = rel(last, "src/Mod1/Class1.php");
  const content = readFileSync(target, "utf8");
  writeFileSync(target, content.replace("1", "X")); // same inode, same size, new mtime
  fx.file("public/index.php", "<?php echo 'edited';\n");
  const r = await deploy();
  assert.ok(
    r.warned.some((w) => /src\/Mod1\/Class1\.php: changed in the previous release.*linking none/.test(w)),
    r.warned.join(" | "),
  );
  assertSameAsSource(r.release);
  // The shared links, made in the upload's round trip after its check, are made after a fallback too.
  for (const p of [".env", "storage/uploads"])
    assert.equal(
      readlinkSync(rel(r.release, p)),
      path.relative(path.dirname(rel(r.release, p)), path.join(fx.deployPath, "shared", p)),
    );
  last = r.release;
});

test("another owner in the source: directories keep it (rsync sends them), a private file is not written inline", async () => {
  chownSync(path.join(fx.app, "src/Mod2"), 4321, 4321);
  fx.file("config/secret.php", "<?php return 'private';\n");
  chmodSync(path.join(fx.app, "config/secret.php"), 0o600);
  await deploy();
  fx.file("config/secret.php", "<?php return 'private, changed';\n");
  chmodSync(path.join(fx.app, "config/secret.php"), 0o600);
  const r = await deploy();
  assert.deepEqual(r.warned, []);
  assert.equal(statSync(rel(r.release, "src/Mod2")).uid, 4321);
  assert.equal(statSync(rel(r.release, "config/secret.php")).mode & 0o777, 0o600);
  assertSameAsSource(r.release);
  chownSync(path.join(fx.app, "src/Mod2"), 0, 0);
  last = r.release;
});

test("a directory of the previous release turned into a link: not followed, every file sent, nothing linked", async () => {
  // Same sizes and names elsewhere, other content: linking through the link would serve it.
  const outside = path.join(fx.dir, "outside");
  mkdirSync(outside, { recursive: true });
  for (const name of readdirSync(rel(last, "src/Mod0")))
    if (name.endsWith(".php"))
      writeFileSync(path.join(outside, name), "x".repeat(statSync(rel(last, `src/Mod0/${name}`)).size));
  rmSync(rel(last, "src/Mod0"), { recursive: true });
  symlinkSync(outside, rel(last, "src/Mod0"));
  fx.file("public/index.php", "<?php echo 'next';\n");
  const r = await deploy();
  assert.ok(
    r.warned.some((w) => /not linked to the previous release's file.*linking none/.test(w)),
    r.warned.join(" | "),
  );
  assertSameAsSource(r.release);
  const outsideInodes = new Set(readdirSync(outside).map((n) => statSync(path.join(outside, n)).ino));
  for (const name of readdirSync(rel(r.release, "src/Mod0")))
    assert.ok(!outsideInodes.has(statSync(rel(r.release, `src/Mod0/${name}`)).ino), name);
  last = r.release;
});

test("a file of the previous release turned into a directory: the link fails, every file is sent", async () => {
  rmSync(rel(last, "src/lib.php"));
  mkdirSync(rel(last, "src/lib.php"));
  fx.file("public/index.php", "<?php echo 'again';\n");
  const modes = () =>
    readdirSync(rel(last, "src/Mod0")).map((n) => statSync(rel(last, `src/Mod0/${n}`)).mode);
  const before = modes();
  const r = await deploy();
  assert.ok(
    r.warned.some((w) => /cannot build the release from .*linking none/.test(w)),
    r.warned.join(" | "),
  );
  assertSameAsSource(r.release);
  assert.deepEqual(
    modes(),
    before,
    "emptying the new release left the previous release's files as they were",
  );
});

test("build once: the delta links from the previous build's release; the build directory's hashes are not kept", async () => {
  const cache = path.join(fx.dir, "xdg cache");
  const env = { XDG_CACHE_HOME: cache };
  fx.writeConfig({
    build: { local: ["mkdir -p vendor && printf '<?php // built\\n' > vendor/autoload.php"] },
  });
  const run = async () => {
    const r = await cutover(["--json", "deploy"], fx.app, env);
    assert.equal(r.code, 0, r.stderr);
    return json<Result>(r);
  };
  const first = await run();
  fx.file("public/index.php", "<?php echo 'built again';\n");
  const r = await run();
  assert.equal(r.filesTransferred, 1);
  assert.equal(statSync(rel(r.release, "src/lib.php")).ino, statSync(rel(first.release, "src/lib.php")).ino);
  assert.ok(
    !existsSync(path.join(cache, "cutover/hashes")),
    "no hashes kept for a directory made for one run",
  );
  assert.equal(readdirSync(path.join(cache, "cutover/manifests")).length, 2);
  fx.writeConfig();
  last = r.release;
});

test("two hosts on one release: the host whose manifest is not the recorded one sends every file, the other links", async () => {
  const cache = path.join(fx.dir, "two hosts cache");
  const env = { XDG_CACHE_HOME: cache };
  const paths = ["a", "b"].map((name) => path.join(fx.dir, `two hosts ${name}`));
  fx.writeConfig({}, [
    { name: "a", path: paths[0] },
    { name: "b", path: paths[1] },
  ]);
  // One host at a time, a first: b comes to the decision a has already made from its own manifest.
  const run = async () => {
    const r = await cutover(["--json", "deploy", "--parallel", "1"], fx.app, env);
    assert.equal(r.code, 0, r.stderr);
    return json<Result>(r);
  };
  // Past mtimes: a file newer than its release's manifest would be suspect (see the fresh checkout's).
  touchAll(fx.app, new Date(Date.now() - 120_000));
  const first = await run();
  // Host b's manifest no longer has the recorded checksum, and this machine keeps no copy: each host
  // is asked for its own. A fresh checkout's mtimes: only a delta (not rsync's quick check) links.
  const manifest = path.join(paths[1]!, ".cutover/releases", `${first.release}.manifest`);
  writeFileSync(manifest, `${readFileSync(manifest, "utf8")}"extra" f 644 ${"0".repeat(64)}\n`);
  rmSync(path.join(cache, "cutover/manifests"), { recursive: true });
  touchAll(fx.app, new Date(Date.now() - 60_000));
  fx.file("public/index.php", "<?php echo 'two hosts';\n");
  const r = await run();
  const ino = (root: string, id: string) => statSync(path.join(root, "releases", id, "src/lib.php")).ino;
  assert.equal(ino(paths[0]!, r.release), ino(paths[0]!, first.release), "a links from its previous release");
  assert.notEqual(ino(paths[1]!, r.release), ino(paths[1]!, first.release), "b links nothing");
  for (const root of paths)
    assert.equal(
      readFileSync(path.join(root, "releases", r.release, "public/index.php"), "utf8"),
      "<?php echo 'two hosts';\n",
    );
  fx.writeConfig();
});

test("over SSH: the second deploy links from the first and sends the one changed file", async () => {
  const rig = sshRig();
  after(() => rig.stopAll());
  const server = await rig.start({ address: "127.0.0.1" });
  const remote = path.join(fx.dir, "over ssh 'x' ü");
  fx.writeConfig({}, [sshHost(rig, server, remote)]);
  const first = await deploy();
  fx.file("src/lib.php", "<?php function version() { return 'ssh'; }\n");
  const r = await deploy();
  assert.deepEqual(r.warned, []);
  assert.equal(r.filesTransferred, 1);
  const ino = (id: string, p: string) => statSync(path.join(remote, "releases", id, p)).ino;
  assert.equal(ino(r.release, "src/Mod0/Class0.php"), ino(first.release, "src/Mod0/Class0.php"));
  assert.notEqual(ino(r.release, "src/lib.php"), ino(first.release, "src/lib.php"));
  // Its manifest went as edits of the first one's: the host's files agree with it.
  const manifest = readFileSync(path.join(remote, ".cutover/releases", `${r.release}.manifest`), "utf8");
  assert.match(manifest, /"src\/lib.php" f [0-7]+ [0-9a-f]{64}\n/);
  const verify = await cutover(["verify"], fx.app);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  fx.writeConfig();
});
