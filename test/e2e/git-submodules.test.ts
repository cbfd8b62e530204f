import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";
import { assertCurrentComplete } from "../helpers/tree.js";

/** submodules: true: the commit's submodules are part of the release, on the host and in a local build. */
const fx = fixture();
after(() => fx.cleanup());
const lib = gitOrigin(path.join(fx.dir, "lib"));
const app = gitOrigin(path.join(fx.dir, "app"));
// The submodule is a local path: cutover refuses those unless the config allows them
// (submodules_allow_local, whatever the host's git config says; see git-submodule-urls.test.ts).
const env = {};
const deployPath = fx.deployPath;
mkdirSync(path.join(deployPath, "shared"), { recursive: true });
writeFileSync(path.join(deployPath, "shared/.env"), "K=v\n");
const libCommit = lib.commit({ "src/Lib.php": "<?php // the library\n" }, "library");
app.commit({ "public/index.php": "<?php require '../vendor/lib/src/Lib.php';\n" }, "app");
app.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", lib.bare, "vendor/lib");
app.commit({}, "add the library as a submodule");

const config = (extra: Record<string, unknown>) =>
  fx.writeConfig({
    strategy: "git",
    repository: app.bare,
    ref: "main",
    submodules_allow_local: true,
    ...extra,
  });
const lib_ = () => path.join(deployPath, "current/vendor/lib/src/Lib.php");

test("without submodules: the submodule's directory is empty (git archive leaves it out)", async () => {
  config({});
  const r = await cutover(["--json", "deploy"], fx.app, env);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(path.join(deployPath, "current/public/index.php")));
  assert.ok(!existsSync(lib_()));
});

test("submodules: true on the host: the submodule at its recorded commit, no .git anywhere in the release", async () => {
  config({ submodules: true });
  const r = await cutover(["--json", "deploy"], fx.app, env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(lib_(), "utf8"), "<?php // the library\n");
  assert.ok(!existsSync(path.join(deployPath, "current/.git")));
  assert.ok(!existsSync(path.join(deployPath, "current/vendor/lib/.git")));
  assert.equal(
    path.basename(realpathSync(path.join(deployPath, "current"))),
    json<{ release: string }>(r).release,
  );
  assertCurrentComplete(deployPath, ["bootstrap/cache"]);
  assert.match(libCommit, /^[0-9a-f]{40}$/);
});

test("submodules: true with build.local: the local export has the submodule too", async () => {
  config({ submodules: true, build: { local: ["test -f vendor/lib/src/Lib.php && echo ok > built.txt"] } });
  const r = await cutover(["--json", "deploy"], fx.app, env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(path.join(deployPath, "current/built.txt"), "utf8"), "ok\n");
  assert.equal(readFileSync(lib_(), "utf8"), "<?php // the library\n");
});
