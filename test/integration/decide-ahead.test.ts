import assert from "node:assert/strict";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { decideAhead, decideOnce } from "../../src/engine/delta-decision.js";
import { HashCache } from "../../src/engine/hash-cache.js";
import { indexSource } from "../../src/engine/source-index.js";
import { deploy, loadStage } from "../../src/index.js";
import { uploadExcludes } from "../../src/plan/release-content.js";
import { LocalExecutor } from "../../src/transport/local.js";
import { cutover, json } from "../helpers/cli.js";
import { wrapExecutors } from "../helpers/executors.js";
import { fixture } from "../helpers/fixture.js";
import { ownCaches } from "../helpers/scratch.js";

/**
 * While the hosts connect, the deploy decides what to link against the manifest this machine
 * recorded last (engine/delta-decision.ts decideAhead): the host's previous release's, when it was
 * this machine's last deploy, and then used as is; a host on another release is decided against its
 * own manifest.
 */
ownCaches();
const fx = fixture();
after(() => fx.cleanup());
const executor = new LocalExecutor("local", 30);
after(() => executor.close());
for (let i = 0; i < 10; i++) fx.file(`src/F${i}.php`, `<?php // ${i}\n`);
const other = path.join(fx.dir, "other target");

/** The current release of a target and the checksum its metadata records. */
function base(deployPath: string): { dir: string; manifest: string; checksum: string } {
  const id = path.basename(readlinkSync(path.join(deployPath, "current")));
  const meta = JSON.parse(readFileSync(path.join(deployPath, ".cutover/releases", `${id}.json`), "utf8"));
  return {
    dir: path.join(deployPath, "releases", id),
    manifest: path.join(deployPath, ".cutover/releases", `${id}.manifest`),
    checksum: meta.checksum,
  };
}

async function deployTo(deployPath: string): Promise<{ filesTransferred: number }> {
  fx.writeConfig({}, [{ name: "local", path: deployPath }]);
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  return json(r);
}

test("the decision made ahead is the one the host's deploy uses when it is on the manifest recorded last", async () => {
  await deployTo(fx.deployPath);
  fx.file("src/F1.php", "<?php // changed\n");
  const stage = loadStage({ cwd: fx.app });
  const source = await indexSource(stage.source, uploadExcludes(stage), false);
  assert.ok(source);
  const ahead = await decideAhead(Promise.resolve(source));
  assert.ok(ahead, "a manifest was recorded");
  const ctx = { executor, emit: () => undefined };
  assert.equal(await decideOnce(ctx, base(fx.deployPath), source), ahead);
  assert.deepEqual(ahead.decision.send, ["src/F1.php"]);
  // Another target deployed since: its manifest is the newest; this host's is decided on its own.
  await deployTo(other);
  const again = await indexSource(stage.source, uploadExcludes(stage), false);
  assert.ok(again);
  const guessed = await decideAhead(Promise.resolve(again));
  const own = await decideOnce(ctx, base(fx.deployPath), again);
  assert.ok(guessed && own);
  assert.notEqual(own, guessed);
  assert.deepEqual(own.decision.send, ["src/F1.php"]);
  assert.deepEqual(guessed.decision.send, []);
});

test("a deploy after one to another target links against its own previous release", async () => {
  const a = path.join(fx.dir, "target a");
  const b = path.join(fx.dir, "target b");
  await deployTo(a);
  await deployTo(a); // a delta: the source's hashes are kept, so the deploys after index it early
  // Same sizes: files linked by a decision made against another release's manifest would pass the
  // host's check (same inode, size and mode) and the release would hold the old content.
  fx.file("src/F5.php", "<?php // x\n");
  fx.file("src/F6.php", "<?php // y\n");
  await deployTo(b);
  fx.file("src/F7.php", "<?php // z\n");
  // In process, the host's first answer held back: the decision made ahead is made before its own.
  fx.writeConfig({}, [{ name: "local", path: a }]);
  let first = true;
  const slow = wrapExecutors({
    run: async (real, _host, cmds, options) => {
      if (first) await new Promise((resolve) => setTimeout(resolve, 500));
      first = false;
      return real.run(cmds, options);
    },
  });
  const stage = loadStage({ cwd: fx.app });
  assert.ok(HashCache.exists(stage.source), "the source is indexed while the host connects");
  const r = await deploy({
    stage,
    emit: () => undefined,
    command: "test",
    executors: slow,
  });
  assert.equal(r.exitCode, 0, r.error?.message);
  assert.equal(r.filesTransferred, 3, "F5, F6 and F7 changed since this target's release");
  for (const f of ["F5", "F6", "F7"]) {
    const deployed = readFileSync(path.join(a, "current/src", `${f}.php`), "utf8");
    assert.equal(deployed, readFileSync(path.join(fx.app, "src", `${f}.php`), "utf8"), f);
  }
  const verify = await cutover(["verify"], fx.app);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
});

test("without a manifest cache nothing is decided ahead and no cache directory is made", async () => {
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = path.join(fx.dir, "empty cache");
  try {
    const stage = loadStage({ cwd: fx.app });
    const source = await indexSource(stage.source, uploadExcludes(stage), false);
    assert.ok(source);
    assert.equal(await decideAhead(Promise.resolve(source)), undefined);
    assert.equal(existsSync(process.env.XDG_CACHE_HOME), false);
  } finally {
    process.env.XDG_CACHE_HOME = saved;
  }
});

test("an index that fails: nothing is decided ahead, with or without a manifest recorded, and nothing is left unhandled", async () => {
  const failed = () => Promise.reject(new Error("find failed"));
  assert.equal(await decideAhead(failed()), undefined, "with this test's manifests");
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = path.join(fx.dir, "empty cache");
  try {
    assert.equal(await decideAhead(failed()), undefined, "without a manifest cache");
    // An unhandled rejection would be reported by now.
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    process.env.XDG_CACHE_HOME = saved;
  }
});
