import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { exposedFiles } from "../../src/engine/doctor-http.js";
import { exposedCandidates, parseCandidates } from "../../src/integrations/web/exposed.js";
import { nginxConfig } from "../../src/integrations/web/server-config.js";
import { type Daemon, startFpm, startNginx } from "../helpers/web.js";

/**
 * doctor's HTTP check asks relative to the health check URL. A health URL below the site's root
 * (Laravel's API routes live under /api/, as in the README's `http://{host}/api/health`) must not
 * hide a web server that serves /.env at the root: the app answers /api/.env itself.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), "cutover-doctor-http-"));
const servers: Daemon[] = [];
after(async () => {
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a health URL below the site root (/api/health): a /.env served at the root is still found", async () => {
  const deployPath = path.join(dir, "deploy");
  const release = path.join(deployPath, "releases", "20261201T120000Z");
  mkdirSync(release, { recursive: true });
  writeFileSync(path.join(release, "index.php"), "<?php echo 'ok';\n");
  writeFileSync(path.join(release, ".env"), "APP_KEY=base64:secret\n");
  for (let d = release; d !== path.dirname(dir); d = path.dirname(d)) chmodSync(d, 0o755);
  symlinkSync("releases/20261201T120000Z", path.join(deployPath, "current"));
  const fpm = await startFpm(path.join(dir, "fpm"), { validateTimestamps: true });
  servers.push(fpm);
  // The printed block without its deny rules: a config that serves the release's dotfiles.
  const open = await startNginx(path.join(dir, "nginx"), (listen) =>
    nginxConfig({ deployPath, webroot: ".", listen, serverName: "_" }, fpm.socket).replace(
      /\n {4}# Never serve dotfiles[\s\S]*?\n\n {4}location \/ \{/,
      "\n    location / {",
    ),
  );
  servers.push(open);
  assert.equal(await (await fetch(`${open.url}/.env`)).text(), "APP_KEY=base64:secret\n");
  assert.equal(await (await fetch(`${open.url}/api/health`)).text(), "ok", "the app answers its routes");
  const { argv } = exposedCandidates(release);
  const candidates = parseCandidates(spawnSync(argv[0]!, argv.slice(1)).stdout.toString());
  assert.ok(candidates.has("/.env"));
  const report = await exposedFiles(`${open.url}/api/health`, candidates);
  assert.equal(report.notAsked, undefined);
  assert.deepEqual(
    report.exposed.map((e) => e.url),
    [`${open.url}/.env`],
  );
});
