import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { BIN, cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { writeProbeApp } from "../helpers/php-app.js";
import { startFpm, startNginx } from "../helpers/web.js";

/**
 * A pool that keeps OPcache on but will not let cutover reset it (opcache.restrict_api, or
 * disable_functions naming an OPcache function): the naive $document_root config then serves the
 * old release's compiled code. The deploy must fail and switch back, naming the setting, not
 * report success while serving stale code.
 */
async function deployTwice(ini: Record<string, string>, resetWait = 2) {
  const fx = fixture("reset refused");
  const build = writeProbeApp(fx);
  const fpm = await startFpm(path.join(fx.dir, "fpm"), {
    validateTimestamps: false,
    children: 2,
    ini: { realpath_cache_ttl: "1", ...ini },
  });
  const config = (reset: string) =>
    fx.writeConfig({
      shared_dirs: [],
      shared_files: [],
      writable_dirs: [],
      hooks: { build },
      php: { fpm: [{ socket: fpm.socket, reset }], reset_wait: resetWait },
    });
  config("none");
  try {
    const first = await cutover(["--json", "deploy"], fx.app);
    assert.equal(first.code, 0, first.stderr);
    const nginx = await startNginx(path.join(fx.dir, "nginx"), (listen) =>
      execFileSync(
        process.execPath,
        [BIN, "server-config", "nginx", "--listen", listen, "--fpm", fpm.socket],
        {
          cwd: fx.app,
        },
      )
        .toString()
        .replaceAll("$realpath_root", "$document_root"),
    );
    try {
      const live = () => path.basename(realpathSync(path.join(fx.deployPath, "current")));
      const firstRelease = live();
      // Compiled into OPcache under current/ paths: what a reset must drop.
      for (let i = 0; i < 4; i++) await fetch(`${nginx.url}/index.php`).then((r) => r.text());
      // The workers' realpath caches forget `current` (realpath_cache_ttl 1): only OPcache is stale.
      await new Promise((r) => setTimeout(r, 2500));
      config("opcache");
      const started = Date.now();
      const second = await cutover(["deploy"], fx.app);
      const secondMs = Date.now() - started;
      // A worker that resolved `current` during the failed reset keeps that for realpath_cache_ttl
      // (whole seconds of request time: up to 2 s here).
      await new Promise((r) => setTimeout(r, 3000));
      const served = await fetch(`${nginx.url}/index.php`).then((r) => r.text());
      return { second, secondMs, firstRelease, live: live(), served };
    } finally {
      await nginx.stop();
    }
  } finally {
    await fpm.stop();
    fx.cleanup();
  }
}

for (const [what, ini, named] of [
  ["opcache.restrict_api", { "opcache.restrict_api": "/nonexistent/" }, /opcache\.restrict_api/],
  ["disable_functions opcache_get_status", { disable_functions: "opcache_get_status" }, /disable_functions/],
  ["disable_functions opcache_reset", { disable_functions: "opcache_reset" }, /disable_functions/],
] as const) {
  test(`a pool whose OPcache cutover cannot reset (${what}): the deploy fails, switches back, says why`, async () => {
    const r = await deployTwice(ini);
    assert.notEqual(r.second.code, 0, `deploy succeeded while the pool serves: ${r.served}`);
    assert.equal(r.live, r.firstRelease, "current was switched back");
    assert.match(r.served, new RegExp(`start=${r.firstRelease} end=${r.firstRelease}`));
    // The error's own first line says why.
    const errorLine = r.second.stderr.split("\n").find((l) => l.startsWith("error: "));
    assert.match(errorLine ?? "", named, r.second.stderr);
  });
}

// OPcache off in the pool: opcache_reset() does nothing, so nothing clears the workers' realpath
// caches, and each keeps resolving `current` to the old release for realpath_cache_ttl.
test("a pool with OPcache off and reset: opcache: the deploy fails at once, switches back, names opcache.enable", async () => {
  const r = await deployTwice({ "opcache.enable": "0", realpath_cache_ttl: "120" }, 60);
  assert.notEqual(r.second.code, 0, `deploy succeeded while the pool serves: ${r.served}`);
  assert.equal(r.live, r.firstRelease, "current was switched back");
  assert.match(r.served, new RegExp(`start=${r.firstRelease} end=${r.firstRelease}`));
  const errorLine = r.second.stderr.split("\n").find((l) => l.startsWith("error: "));
  assert.match(errorLine ?? "", /opcache\.enable/, r.second.stderr);
  assert.match(r.second.stderr, /realpath_cache_ttl=120/);
  assert.doesNotMatch(r.second.stderr, /preload/);
  // Waiting out reset_wait (60 s) would not help: the caches keep `current` for 120 s.
  assert.ok(r.secondMs < 30_000, `the deploy took ${r.secondMs} ms`);
});

// Something else in the pool writes output (an auto_prepend_file here): cutover cannot read the
// workers' reports, and must say that, at once, not that the pool "serves another release".
test("a pool whose answers cutover cannot read as reports: the deploy fails at once, switches back, and says what the pool answered", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cutover-prepend-"));
  chmodSync(dir, 0o755);
  writeFileSync(path.join(dir, "prepend.php"), "<?php echo 'prepended by the pool: ';\n");
  try {
    const r = await deployTwice({ auto_prepend_file: path.join(dir, "prepend.php") }, 60);
    assert.notEqual(r.second.code, 0, `deploy succeeded while the pool serves: ${r.served}`);
    assert.equal(r.live, r.firstRelease, "current was switched back");
    const errorLine = r.second.stderr.split("\n").find((l) => l.startsWith("error: "));
    assert.match(errorLine ?? "", /answered with nothing cutover can read as a report/, r.second.stderr);
    assert.match(r.second.stderr, /prepended by the pool: \{/);
    assert.doesNotMatch(r.second.stderr, /serves another release/);
    assert.ok(r.secondMs < 30_000, `the deploy took ${r.secondMs} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
