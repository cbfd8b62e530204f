import assert from "node:assert/strict";
import { readFileSync, readlinkSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { decideAhead, decideOnce } from "../../src/engine/delta-decision.js";
import { indexSource } from "../../src/engine/source-index.js";
import { loadStage } from "../../src/index.js";
import { uploadExcludes } from "../../src/plan/release-content.js";
import { LocalExecutor } from "../../src/transport/local.js";
import { cutover, json } from "../helpers/cli.js";
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
  const ahead = await decideAhead(source);
  assert.ok(ahead, "a manifest was recorded");
  const ctx = { executor, emit: () => undefined };
  assert.equal(await decideOnce(ctx, base(fx.deployPath), source), ahead);
  assert.deepEqual(ahead.decision.send, ["src/F1.php"]);
  // Another target deployed since: its manifest is the newest; this host's is decided on its own.
  await deployTo(other);
  const again = await indexSource(stage.source, uploadExcludes(stage), false);
  assert.ok(again);
  const guessed = await decideAhead(again);
  const own = await decideOnce(ctx, base(fx.deployPath), again);
  assert.ok(guessed && own);
  assert.notEqual(own, guessed);
  assert.deepEqual(own.decision.send, ["src/F1.php"]);
  assert.deepEqual(guessed.decision.send, []);
});

test("a deploy after one to another target links against its own previous release", async () => {
  fx.file("src/F2.php", "<?php // changed too\n");
  await deployTo(other);
  fx.file("src/F3.php", "<?php // and this\n");
  const r = await deployTo(fx.deployPath);
  assert.equal(r.filesTransferred, 3, "F1, F2 and F3 changed since this target's release");
  const verify = await cutover(["verify"], fx.app);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
});
