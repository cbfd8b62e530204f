import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { type GitHttp, gitHttp } from "../helpers/git-http.js";
import { gitOrigin } from "../helpers/git-origin.js";

/**
 * A token in an http(s) repository URL, on a machine whose git has a credential helper that stores
 * what it is given (`store`, or the keychain helpers git installs by default on some systems): git
 * hands a URL's credentials to the helper after a request they authorized, so unless cutover tells
 * it not to, the token ends up on disk, here and on the hosts (the local host reads this same file).
 */
const fx = fixture();
const origin = gitOrigin(path.join(fx.dir, "origin"));
const deployPath = fx.deployPath;
const SECRET = "s3cr3t-t0ken-value";
const store = path.join(fx.dir, "stored credentials");
const env = {
  GIT_CONFIG_COUNT: "1",
  GIT_CONFIG_KEY_0: "credential.helper",
  GIT_CONFIG_VALUE_0: `store --file='${store}'`,
};
let server: GitHttp;
before(async () => {
  server = await gitHttp(origin.bare, "x-token", SECRET);
});
after(async () => {
  await server.close();
  fx.cleanup();
});

mkdirSync(path.join(deployPath, "shared"), { recursive: true });
writeFileSync(path.join(deployPath, "shared/.env"), "K=v\n");
origin.commit({ "public/index.php": "<?php echo 'v1';\n" }, "v1");

const withToken = () => server.url.replace("http://", `http://x-token:${SECRET}@`);
const stored = () => (existsSync(store) ? readFileSync(store, "utf8") : "");

for (const [name, extra] of [
  ["resolve here, fetch into the host's mirror", {}],
  ["the local build's fetch", { build: { local: ["true"] } }],
] as const) {
  test(`${name}: the token reaches no credential helper`, async () => {
    writeFileSync(store, "");
    fx.writeConfig({ strategy: "git", repository: withToken(), ref: "main", ...extra });
    const r = await cutover(["deploy"], fx.app, env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      readFileSync(path.join(deployPath, "current/public/index.php"), "utf8"),
      "<?php echo 'v1';\n",
    );
    assert.doesNotMatch(stored(), new RegExp(SECRET));
  });
}

test("doctor: the token reaches no credential helper", async () => {
  writeFileSync(store, "");
  fx.writeConfig({ strategy: "git", repository: withToken(), ref: "main" });
  const r = await cutover(["doctor"], fx.app, env);
  assert.doesNotMatch(r.stdout + r.stderr, /git/, r.stdout + r.stderr);
  assert.doesNotMatch(stored(), new RegExp(SECRET));
});

test("submodules on the host (a relative URL, the same server): the token reaches no credential helper", async () => {
  // The library beside the app's repository on the server: ../lib.git from the app's URL.
  const lib = gitOrigin(path.join(fx.dir, "lib"));
  const libCommit = lib.commit({ "src/Lib.php": "<?php // the library\n" }, "library");
  const served = path.join(path.dirname(origin.bare), "lib.git");
  execFileSync("git", ["clone", "-q", "--bare", "--", lib.bare, served]);
  origin.git("update-index", "--add", "--cacheinfo", `160000,${libCommit},vendor/lib`);
  mkdirSync(path.join(fx.dir, "origin/work tree/vendor/lib"), { recursive: true });
  origin.commit(
    { ".gitmodules": '[submodule "lib"]\n\tpath = vendor/lib\n\turl = ../lib.git\n' },
    "submodule",
  );
  writeFileSync(store, "");
  fx.writeConfig({ strategy: "git", repository: withToken(), ref: "main", submodules: true });
  const r = await cutover(["deploy"], fx.app, env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    readFileSync(path.join(deployPath, "current/vendor/lib/src/Lib.php"), "utf8"),
    "<?php // the library\n",
  );
  assert.doesNotMatch(stored(), new RegExp(SECRET));
});
