import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { assertCurrentComplete } from "../helpers/tree.js";

/**
 * The previous release on the host is input like any other. Its manifest's hashes go into the new
 * release's manifest only when it is the one that release's metadata records (this machine's copy,
 * or the host's with that checksum); its files are linked only where the check proves them
 * unchanged since, renamed ones included.
 */
const fx = fixture();
after(() => fx.cleanup());
/** A deploying machine of its own: its caches (hashes, manifests) start empty. */
const machine = () => ({ XDG_CACHE_HOME: mkdtempSync(path.join(fx.dir, "cache ")) });

async function deploy(env: Record<string, string>, warned?: RegExp): Promise<string> {
  const r = await cutover(["deploy", "-q"], fx.app, env);
  assert.equal(r.code, 0, r.stderr);
  if (warned) assert.match(r.stderr, warned);
  else assert.doesNotMatch(r.stderr, /warning/);
  return assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
}

/** src/a.php and src/b.php (of one size) swapped in a release: each keeps its inode and mtime. */
function swap(release: string): void {
  const src = (name: string) => path.join(release, "src", name);
  renameSync(src("a.php"), src("swap"));
  renameSync(src("b.php"), src("a.php"));
  renameSync(src("swap"), src("b.php"));
}

test("a previous manifest changed on the host lends no hash to the next release, deployed from another machine", async () => {
  const first = await deploy(machine());
  const file = path.join(fx.deployPath, ".cutover/releases", `${first}.manifest`);
  const text = readFileSync(file, "utf8");
  const lie = text.replace(/^("src\/lib\.php" f \d+ )[0-9a-f]{64}$/m, `$1${"0".repeat(64)}`);
  assert.notEqual(lie, text);
  writeFileSync(file, lie);
  // src/lib.php unchanged: rsync links it from the previous release, whose manifest now lies about it.
  fx.file("public/index.php", "<?php echo 'v2';\n");
  const second = await deploy(machine());
  assert.notEqual(second, first);
  const recorded = readFileSync(path.join(fx.deployPath, ".cutover/releases", `${second}.manifest`), "utf8");
  assert.doesNotMatch(recorded, /0{64}/);
  const v = await cutover(["verify"], fx.app);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});

test("two files of one size swapped in the previous release (each keeps its mtime): nothing linked from there", async () => {
  const env = machine();
  fx.file("src/a.php", "<?php return 'a';\n");
  fx.file("src/b.php", "<?php return 'b';\n");
  const live = path.join(fx.deployPath, "releases", await deploy(env));
  swap(live);
  fx.file("public/index.php", "<?php echo 'v3';\n");
  await deploy(env, /src\/[ab]\.php: its directory changed in the previous release.*linking none/);
  const current = realpathSync(path.join(fx.deployPath, "current"));
  assert.equal(readFileSync(path.join(current, "src/a.php"), "utf8"), "<?php return 'a';\n");
  // Nothing changed in that release since: the next deploy links from it again, without a warning.
  fx.file("public/index.php", "<?php echo 'v4';\n");
  await deploy(env);
});

// The manifest is written as edits of the previous one, or whole when they would be larger (many new files).
for (const [written, added] of [
  ["as edits", 0],
  ["whole", 40],
] as const)
  test(`a linked file edited in place in the live release after the seal listed it (manifest written ${written}): the next deploy sees it`, async () => {
    const env = machine();
    const live = path.join(fx.deployPath, "releases", await deploy(env));
    // The scan runs after the listing, in its round trip: a grep first in PATH edits the live
    // release's src/lib.php there, as the app could, in place (same inode and size).
    const bin = mkdtempSync(path.join(fx.dir, "bin "));
    const grep = execFileSync("sh", ["-c", "command -v grep"], { encoding: "utf8" }).trim();
    writeFileSync(
      path.join(bin, "grep"),
      `#!/bin/sh
case " $* " in *" -IlZ "*) [ -e "$EDIT_FLAG" ] || { : > "$EDIT_FLAG"; printf '//' 1<> "$EDIT_TARGET"; } ;; esac
exec ${grep} "$@"
`,
      { mode: 0o755 },
    );
    const flag = path.join(bin, "edited");
    const edited = {
      PATH: `${bin}:${process.env.PATH}`,
      EDIT_FLAG: flag,
      EDIT_TARGET: path.join(live, "src/lib.php"),
    };
    fx.file("public/index.php", "<?php echo 'v7';\n");
    for (let i = 0; i < added; i++) fx.file(`public/added/${i}.php`, `<?php // ${i}\n`);
    const r = await cutover(["deploy", "-q"], fx.app, { ...env, ...edited });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(flag));
    // That release shares the file, edited after its hash was taken (the same as rsync --link-dest).
    fx.file("public/index.php", "<?php echo 'v8';\n");
    await deploy(
      env,
      /src\/lib\.php: changed in the previous release after its manifest was written.*linking none/,
    );
    const current = realpathSync(path.join(fx.deployPath, "current"));
    assert.equal(
      readFileSync(path.join(current, "src/lib.php"), "utf8"),
      readFileSync(path.join(fx.app, "src/lib.php"), "utf8"),
    );
  });

test("the same swap with rsync --link-dest (a name that is not UTF-8: no delta): each file's hash is its own", async () => {
  const env = machine();
  // Other mtimes, so rsync's quick check tells a.php from b.php whatever the clock's granularity.
  utimesSync(path.join(fx.app, "src/a.php"), 1_700_000_000, 1_700_000_000);
  utimesSync(path.join(fx.app, "src/b.php"), 1_700_000_100, 1_700_000_100);
  writeFileSync(Buffer.concat([Buffer.from(path.join(fx.app, "latin1 ")), Buffer.from([0xe9])]), "é\n");
  const run = async () => {
    const r = await cutover(["deploy", "-q"], fx.app, env);
    assert.equal(r.code, 0, r.stderr);
    return realpathSync(path.join(fx.deployPath, "current"));
  };
  await run();
  fx.file("public/index.php", "<?php echo 'v5';\n");
  // Its files share their inodes with the release before: rsync links a.php from there.
  swap(await run());
  fx.file("public/index.php", "<?php echo 'v6';\n");
  const current = await run();
  const manifest = readFileSync(
    path.join(fx.deployPath, ".cutover/releases", `${path.basename(current)}.manifest`),
    "utf8",
  );
  for (const name of ["src/a.php", "src/b.php"]) {
    const hash = createHash("sha256")
      .update(readFileSync(path.join(current, name)))
      .digest("hex");
    const mode = (statSync(path.join(current, name)).mode & 0o7777).toString(8);
    assert.ok(manifest.includes(`"${name}" f ${mode} ${hash}\n`), `${name}: ${manifest}`);
  }
  const v = await cutover(["verify"], fx.app, env);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});

test("a source directory dated ahead of the host's clock, then given a file: the next deploy still links", async () => {
  // As when the deploying machine's clock is ahead: the directory's mtime is the host's future.
  const own = fixture();
  after(() => own.cleanup());
  const ahead = (seconds: number) => {
    const t = Date.now() / 1000 + seconds;
    utimesSync(path.join(own.app, "src"), t, t);
  };
  const run = async () => {
    const r = await cutover(["deploy", "-q"], own.app, machine());
    assert.equal(r.code, 0, r.stderr);
    return r.stderr;
  };
  ahead(600);
  await run();
  // rsync -a gave the release's src/ that mtime, newer than its manifest: read as changed since.
  own.file("src/new.php", "<?php\n");
  ahead(700);
  own.file("public/index.php", "<?php echo 'v2';\n");
  assert.doesNotMatch(await run(), /warning/);
});
