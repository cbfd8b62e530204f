import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { type GitHttp, gitHttp } from "../helpers/git-http.js";
import { gitOrigin } from "../helpers/git-origin.js";

/**
 * submodules: true with a .gitmodules the deployer does not control. The app is served by a real
 * git smart-HTTP server on 127.0.0.1; a submodule URL that is a local path or file:// would make the
 * host copy another repository of its own into the release. Refused even where the host's git
 * config allows the file protocol (as an admin's /etc/gitconfig may, or git before 2.38.1 did),
 * here the environment's; a submodule on the server (http, as https or ssh) still works.
 */
const fx = fixture();
const app = gitOrigin(path.join(fx.dir, "app"));
const other = gitOrigin(path.join(fx.dir, "other")); // another repository on the host
const deployPath = fx.deployPath;
const hostAllowsFile = {
  GIT_CONFIG_COUNT: "1",
  GIT_CONFIG_KEY_0: "protocol.file.allow",
  GIT_CONFIG_VALUE_0: "always",
};
let server: GitHttp;
let base: string; // http://127.0.0.1:PORT/

before(async () => {
  other.commit({ "secret.txt": "another repository's secret\n" }, "other");
  // The library lives on the server beside the app (its project root is the app's directory).
  execFileSync("git", ["clone", "-q", "--bare", other.bare, path.join(fx.dir, "app/lib.git")]);
  server = await gitHttp(app.bare, "deploy", "pw");
  base = server.url.slice(0, server.url.lastIndexOf("/") + 1);
  mkdirSync(path.join(deployPath, "shared"), { recursive: true });
  writeFileSync(path.join(deployPath, "shared/.env"), "K=v\n");
  app.commit({ "public/index.php": "<?php echo 1;\n" }, "app");
  app.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", other.bare, "vendor/lib");
  app.commit({}, "add the submodule");
});
after(async () => {
  await server?.close();
  fx.cleanup();
});

/** A commit whose .gitmodules gives vendor/lib this URL. */
const withUrl = (url: string) =>
  app.commit(
    { ".gitmodules": `[submodule "vendor/lib"]\n\tpath = vendor/lib\n\turl = ${url}\n` },
    `lib at ${url}`,
  );
const deploy = (extra: Record<string, unknown> = {}) => {
  fx.writeConfig({
    strategy: "git",
    repository: server.url.replace("http://", "http://deploy:pw@"),
    ref: "main",
    submodules: true,
    ...extra,
  });
  return cutover(["deploy"], fx.app, hostAllowsFile);
};
const live = () =>
  existsSync(path.join(deployPath, "current")) ? realpathSync(path.join(deployPath, "current")) : null;

for (const [kind, url] of [
  ["a plain local path", () => other.bare],
  ["a file:// URL", () => `file://${other.bare}`],
] as const) {
  for (const build of [false, true])
    test(`a submodule at ${kind} is refused${build ? " (build.local)" : ""}, naming it; nothing of it is copied`, async () => {
      withUrl(url());
      const before = live();
      const releases = existsSync(path.join(deployPath, "releases"))
        ? readdirSync(path.join(deployPath, "releases"))
        : [];
      const r = await deploy(build ? { build: { local: ["true"] } } : {});
      assert.notEqual(r.code, 0, r.stderr);
      // One line names the submodule and its URL (the error itself locally, the host's step's reason on a host).
      assert.match(r.stderr, /^error: /m);
      assert.match(
        r.stderr,
        /submodule vendor\/lib has a local URL \([^)\n]*origin ü\.git\); refusing to clone it/,
      );
      assert.match(r.stderr, /submodules_allow_local: true/, "says what to do");
      assert.equal(live(), before, "nothing switched");
      for (const id of readdirSync(path.join(deployPath, "releases")).filter((d) => !releases.includes(d)))
        assert.ok(!existsSync(path.join(deployPath, "releases", id, "vendor/lib/secret.txt")));
    });
}

test("a submodule on the server (http here, as https or ssh) still deploys", async () => {
  withUrl(`${base}lib.git`);
  const r = await deploy();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    readFileSync(path.join(deployPath, "current/vendor/lib/secret.txt"), "utf8"),
    "another repository's secret\n",
  );
});

test("submodules_allow_local: true lets a local submodule be cloned, deliberately", async () => {
  withUrl(other.bare);
  const r = await deploy({ submodules_allow_local: true });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(path.join(deployPath, "current/vendor/lib/secret.txt")));
});
