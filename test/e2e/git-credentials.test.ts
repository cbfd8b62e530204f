import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";

/**
 * A repository URL with a token: git on this machine never gets it on a command line, and a clone
 * made for submodules never stores it, even when the checkout fails. The https URL is mapped to the
 * real (file) origin by the test's own git config, for the URL with and without the token.
 */
const fx = fixture();
after(() => fx.cleanup());
const origin = gitOrigin(path.join(fx.dir, "origin"));
const deployPath = fx.deployPath;
const SECRET = "s3cr3t-t0ken-value";
const plain = "https://127.0.0.1/org/app.git";
const withToken = `https://x-token:${SECRET}@127.0.0.1/org/app.git`;
const env = {
  GIT_CONFIG_COUNT: "2",
  GIT_CONFIG_KEY_0: `url.${origin.bare}.insteadOf`,
  GIT_CONFIG_VALUE_0: plain,
  GIT_CONFIG_KEY_1: `url.${origin.bare}.insteadOf`,
  GIT_CONFIG_VALUE_1: withToken,
};

/** Every git command line run on this machine (the host's run through it too: they name .cutover/repo). */
const log = path.join(fx.dir, "git argv.log");
const bin = path.join(fx.dir, "logging bin");
mkdirSync(bin);
const real = execFileSync("sh", ["-c", "command -v git"]).toString().trim();
writeFileSync(
  path.join(bin, "git"),
  `#!/bin/sh\nprintf '%s\\n' "$*" >> "$GIT_ARGV_LOG"\nexec ${real} "$@"\n`,
  {
    mode: 0o755,
  },
);
const logging = { ...env, PATH: `${bin}:${process.env.PATH}`, GIT_ARGV_LOG: log };

mkdirSync(path.join(deployPath, "shared"), { recursive: true });
writeFileSync(path.join(deployPath, "shared/.env"), "K=v\n");
origin.commit({ "public/index.php": "<?php echo 'v1';\n" }, "v1");

const everyFile = (dir: string) =>
  execFileSync("sh", ["-c", 'grep -r -l -a -F -e "$1" -- "$2" || true', "sh", SECRET, dir]).toString();

test("ls-remote and the local build's fetch: the token is in no git command line on this machine", async () => {
  fx.writeConfig({ strategy: "git", repository: withToken, ref: "main", build: { local: ["true"] } });
  writeFileSync(log, "");
  const r = await cutover(["deploy"], fx.app, logging);
  assert.equal(r.code, 0, r.stderr);
  const local = readFileSync(log, "utf8")
    .split("\n")
    .filter((line) => line && !line.includes(".cutover/repo"));
  assert.ok(
    local.some((line) => line.startsWith("ls-remote")),
    "the wrapper saw the resolve",
  );
  assert.ok(
    local.some((line) => line.includes(" fetch ")),
    "the wrapper saw the local build's fetch",
  );
  assert.deepEqual(
    local.filter((line) => line.includes(SECRET)),
    [],
  );
  assert.equal(readFileSync(path.join(deployPath, "current/public/index.php"), "utf8"), "<?php echo 'v1';\n");
});

test("submodules whose checkout fails: no token left on disk on the host", async () => {
  // A submodule at an unreachable URL: the host's clone gets as far as `submodule update`, then fails.
  origin.git("update-index", "--add", "--cacheinfo", `160000,${"1".repeat(40)},vendor/lib`);
  mkdirSync(path.join(fx.dir, "origin/work tree/vendor/lib"), { recursive: true });
  origin.commit(
    { ".gitmodules": '[submodule "lib"]\n\tpath = vendor/lib\n\turl = ../lib.git\n' },
    "submodule",
  );
  fx.writeConfig({ strategy: "git", repository: withToken, ref: "main", submodules: true });
  const r = await cutover(["deploy"], fx.app, env);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /extract commit .* failed/);
  assert.doesNotMatch(r.stdout + r.stderr, new RegExp(SECRET));
  assert.equal(everyFile(deployPath), "", "no file under the deploy path holds the token");
});
