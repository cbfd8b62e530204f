import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, realpathSync, renameSync, writeFileSync } from "node:fs";
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
  const src = (name: string) => path.join(live, "src", name);
  renameSync(src("a.php"), src("swap"));
  renameSync(src("b.php"), src("a.php"));
  renameSync(src("swap"), src("b.php"));
  fx.file("public/index.php", "<?php echo 'v3';\n");
  await deploy(env, /src\/[ab]\.php: its directory changed in the previous release.*linking none/);
  const current = realpathSync(path.join(fx.deployPath, "current"));
  assert.equal(readFileSync(path.join(current, "src/a.php"), "utf8"), "<?php return 'a';\n");
  // Nothing changed in that release since: the next deploy links from it again, without a warning.
  fx.file("public/index.php", "<?php echo 'v4';\n");
  await deploy(env);
});
