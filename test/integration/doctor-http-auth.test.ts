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
 * Composer's auth.json (beside composer.json, credentials for private repositories) is public when
 * the release root is the web root: doctor's HTTP check asks for it as it does for .env.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), "cutover-doctor-auth-"));
const servers: Daemon[] = [];
after(async () => {
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a web server that serves the release's auth.json is found; the printed config, which refuses it, is clean", async () => {
  const deployPath = path.join(dir, "deploy");
  const release = path.join(deployPath, "releases", "20261201T120000Z");
  mkdirSync(release, { recursive: true });
  writeFileSync(path.join(release, "index.php"), "<?php echo 'ok';\n");
  writeFileSync(path.join(release, "auth.json"), '{"github-oauth":{"github.com":"ghp_secret"}}\n');
  for (let d = release; d !== path.dirname(dir); d = path.dirname(d)) chmodSync(d, 0o755);
  symlinkSync("releases/20261201T120000Z", path.join(deployPath, "current"));
  const fpm = await startFpm(path.join(dir, "fpm"), { validateTimestamps: true });
  servers.push(fpm);
  const printed = (listen: string) =>
    nginxConfig({ deployPath, webroot: ".", listen, serverName: "_" }, fpm.socket);
  // The printed block without its deny rules, and the printed block itself.
  const open = await startNginx(path.join(dir, "open"), (listen) =>
    printed(listen).replace(
      /\n {4}# Never serve dotfiles[\s\S]*?\n\n {4}location \/ \{/,
      "\n    location / {",
    ),
  );
  servers.push(open);
  const safe = await startNginx(path.join(dir, "safe"), printed);
  servers.push(safe);
  const { argv } = exposedCandidates(release);
  const candidates = parseCandidates(spawnSync(argv[0]!, argv.slice(1)).stdout.toString());
  assert.deepEqual(
    (await exposedFiles(`${open.url}/`, candidates)).exposed.map((e) => e.url),
    [`${open.url}/auth.json`],
  );
  assert.deepEqual(await exposedFiles(`${safe.url}/`, candidates), { exposed: [] });
});
