import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { stringify } from "yaml";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { type GitOrigin, gitOrigin } from "../helpers/git-origin.js";
import { assertCurrentComplete } from "../helpers/tree.js";
import { type Fpm, type Nginx, startFpm, startNginx } from "../helpers/web.js";

/**
 * `cutover pull` on a real git origin, a local deploy path served by real nginx + php-fpm, and a
 * health check through them: a commit that breaks health is switched back and not pulled again.
 */
const fx = fixture("pull");
const config = path.join(fx.dir, "pull.yaml");
// nginx's root directive takes no double quote, so this deploy path has spaces and unicode only.
const deployPath = path.join(fx.dir, "pull deploy ü");
let origin: GitOrigin;
let fpm: Fpm;
let nginx: Nginx;

const app = (version: string) => ({
  "public/index.php": `<?php echo "${version}\\n";\n`,
  // Broken when the release carries a BROKEN file: the health check then fails after the switch.
  "public/health.php": `<?php if (file_exists(__DIR__ . '/../BROKEN')) { http_response_code(500); echo "broken\\n"; return; } echo "ok\\n";\n`,
});
const pull = (...args: string[]) => cutover(["-c", config, ...args], fx.dir);
const liveRelease = () => path.basename(realpathSync(path.join(deployPath, "current")));
const releaseDirs = () => readdirSync(path.join(deployPath, "releases")).sort();
const metaOf = (id: string) =>
  JSON.parse(readFileSync(path.join(deployPath, ".cutover/releases", `${id}.json`), "utf8")) as {
    state: string;
    revision: { commit: string } | null;
  };
const served = async () => (await fetch(`${nginx.url}/index.php`)).text();

before(async () => {
  chmodSync(fx.dir, 0o755); // php-fpm's workers (www-data) read the releases
  origin = gitOrigin(path.join(fx.dir, "repo"));
  fpm = await startFpm(path.join(fx.dir, "fpm"), { validateTimestamps: true });
  nginx = await startNginx(
    path.join(fx.dir, "nginx"),
    (listen) => `server {
  listen ${listen};
  root "${deployPath}/current/public";
  location ~ \\.php$ {
    include fastcgi_params;
    fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;
    fastcgi_param DOCUMENT_ROOT $realpath_root;
    fastcgi_pass "unix:${fpm.socket}";
  }
}`,
  );
  writeFileSync(
    config,
    stringify({
      strategy: "git",
      repository: origin.bare,
      ref: "main",
      health_check: { url: `${nginx.url}/health.php`, retries: 2, interval: 0.2 },
      stages: { production: { hosts: [{ path: deployPath }] } },
    }),
  );
});
after(async () => {
  await nginx?.stop();
  await fpm?.stop();
  fx.cleanup();
});

test("pull deploys a new commit, then has nothing to do: exit 0, no output, no new release", async () => {
  const first = origin.commit(app("v1"), "v1");
  const r = await pull("pull");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(metaOf(liveRelease()).revision?.commit, first);
  assert.equal(await served(), "v1\n");
  assertCurrentComplete(deployPath);

  const before = releaseDirs();
  const again = await pull("pull");
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout + again.stderr, "", "quiet for cron");
  assert.deepEqual(releaseDirs(), before);
  const asJson = json<{ action: string; commit: string }>(await pull("--json", "pull"));
  assert.deepEqual([asJson.action, asJson.commit], ["up-to-date", first]);

  const second = origin.commit(app("v2"), "v2");
  const dry = json<{ action: string; commit: string }>(await pull("--json", "--dry-run", "pull"));
  assert.deepEqual([dry.action, dry.commit], ["deploy", second]);
  assert.deepEqual(releaseDirs(), before, "--dry-run changes nothing");
  const deployed = await pull("pull");
  assert.equal(deployed.code, 0, deployed.stderr);
  assert.equal(metaOf(liveRelease()).revision?.commit, second);
  assert.equal(await served(), "v2\n");
});

test("a commit whose health check fails is switched back, and the next pull leaves it alone unless --retry", async () => {
  const good = liveRelease();
  const broken = origin.commit({ ...app("v3"), BROKEN: "yes\n" }, "v3 breaks health");
  const r = await pull("pull");
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /health/i);
  assert.equal(liveRelease(), good, "switched back");
  assert.equal(await served(), "v2\n");
  assertCurrentComplete(deployPath);
  const bad = releaseDirs().length;

  const next = await pull("pull");
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stderr, new RegExp(`not deploying ${broken} again: release \\S+ of this commit is bad`));
  assert.equal(releaseDirs().length, bad, "no new release");
  assert.equal(liveRelease(), good);

  const retried = await pull("pull", "--retry");
  assert.equal(retried.code, 1, "--retry deploys it again (and it fails again)");
  assert.equal(liveRelease(), good);

  const fixed = origin.commit({ BROKEN: null }, "v3 fixed");
  const r2 = await pull("pull");
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(metaOf(liveRelease()).revision?.commit, fixed);
  assert.equal(await served(), "v3\n");
});

test("a stage with an SSH host, or without strategy: git, is refused before anything happens", async () => {
  const other = path.join(fx.dir, "ssh.yaml");
  writeFileSync(
    other,
    stringify({
      strategy: "git",
      repository: origin.bare,
      stages: { production: { hosts: ["deploy@127.0.0.1:/srv/app"] } },
    }),
  );
  const r = await cutover(["-c", other, "pull"], fx.dir);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /host "127\.0\.0\.1" of stage production is reached over SSH; pull runs on the server itself/,
  );
  writeFileSync(
    other,
    stringify({ stages: { production: { hosts: [{ path: path.join(fx.dir, "never") }] } } }),
  );
  const r2 = await cutover(["-c", other, "pull"], fx.dir);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /does not use strategy: git/);
  assert.equal(existsSync(path.join(fx.dir, "never")), false);
});

test("a state file that is a symlink is refused before anything is deployed, its target untouched", async () => {
  const live = liveRelease();
  const before = releaseDirs();
  const victim = path.join(fx.dir, "victim.json");
  writeFileSync(victim, "precious\n");
  const state = path.join(deployPath, ".cutover/agent/state.json");
  mkdirSync(path.dirname(state), { recursive: true });
  rmSync(state, { force: true });
  symlinkSync(victim, state);
  try {
    origin.commit(app("v4"), "v4");
    for (const args of [["pull"], ["pull", "--retry"]]) {
      const r = await pull(...args);
      assert.notEqual(r.code, 0, args.join(" "));
      assert.match(
        r.stderr.split("\n")[0]!,
        /state\.json is a symlink; refusing to read or write through it/,
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
      assert.equal(readFileSync(victim, "utf8"), "precious\n");
      assert.equal(liveRelease(), live, args.join(" "));
      assert.deepEqual(releaseDirs(), before, `nothing deployed by ${args.join(" ")}`);
    }
  } finally {
    rmSync(state, { force: true });
  }
});
