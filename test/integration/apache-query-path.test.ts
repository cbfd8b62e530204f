import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { apacheConfig } from "../../src/integrations/web/server-config.js";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { type Daemon, startApache, startFpm } from "../helpers/web.js";

/**
 * mod_proxy_fcgi refuses to forward a script path holding `?` (AH10414): a vhost for such a deploy
 * path answers 403 to every PHP request. `server-config apache` with php-fpm says so instead of
 * printing it; with mod_php (no proxy) it prints.
 */
const fx = fixture("query path");
const servers: Daemon[] = [];
after(async () => {
  for (const s of servers) await s.stop();
  fx.cleanup();
});

test("a deploy path with ? : Apache + php-fpm answers 403 to every PHP request, so server-config apache refuses it (mod_php prints)", async () => {
  const deployPath = path.join(fx.dir, "shop?eu");
  const release = path.join(deployPath, "releases", "20261201T120000Z", "public");
  mkdirSync(release, { recursive: true });
  writeFileSync(path.join(release, "index.php"), "<?php echo 'the app';\n");
  for (let d = release; d !== path.dirname(fx.dir); d = path.dirname(d)) chmodSync(d, 0o755);
  symlinkSync("releases/20261201T120000Z", path.join(deployPath, "current"));
  const fpm = await startFpm(path.join(fx.dir, "fpm"), { validateTimestamps: true });
  servers.push(fpm);
  const apache = await startApache(path.join(fx.dir, "apache"), (listen) =>
    apacheConfig(
      { deployPath, webroot: "public", listen, serverName: "_" },
      { sapi: "fpm", fpm: fpm.socket },
    ),
  );
  servers.push(apache);
  assert.equal((await fetch(`${apache.url}/index.php`)).status, 403);
  assert.match(readFileSync(path.join(fx.dir, "apache", "error.log"), "utf8"), /AH10414/);

  fx.writeConfig({}, [{ path: deployPath }]);
  const refused = await cutover(["server-config", "apache", "--fpm", fpm.socket], fx.app);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /\?/);
  assert.equal(refused.stdout, "");
  const modPhp = await cutover(["server-config", "apache", "--php", "mod_php"], fx.app);
  assert.equal(modPhp.code, 0, modPhp.stderr);
  assert.match(modPhp.stdout, /DocumentRoot ".*shop\?eu\/current\/public"/);
  const nginx = await cutover(["server-config", "nginx", "--fpm", fpm.socket], fx.app);
  assert.equal(nginx.code, 0, nginx.stderr);
});
