import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { apacheConfig } from "../../src/integrations/web/server-config.js";
import { type Daemon, startApache, startFpm } from "../helpers/web.js";

/**
 * Apache reads a `<Directory>` path holding `[`, `*` or `?` as a wildcard pattern: a deploy path
 * such as `/srv/shop [eu]` must still get the vhost's own `<Directory>` (Require all granted,
 * FallbackResource), behind Debian's `<Directory />` that denies everything else.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), "cutover-apache-glob-"));
const servers: Daemon[] = [];
after(async () => {
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

// As Debian's apache2.conf: nothing outside a site's own <Directory> is served.
const DEBIAN_ROOT = `<Directory />
    Options FollowSymLinks
    AllowOverride None
    Require all denied
</Directory>
`;

test("a deploy path with [ ] or * (and a backslash) keeps the printed vhost's <Directory>: the app answers, routes fall back to index.php", async () => {
  const fpm = await startFpm(path.join(dir, "fpm"), { validateTimestamps: true });
  servers.push(fpm);
  for (const name of ["shop [eu]", "shop *x", "shop [1] a*b", "shop\\ [2]"]) {
    const deployPath = path.join(dir, name);
    const release = path.join(deployPath, "releases", "20261201T120000Z");
    mkdirSync(path.join(release, "public"), { recursive: true });
    writeFileSync(path.join(release, "public", "index.php"), "<?php echo 'the app';\n");
    for (let d = path.join(release, "public"); d !== path.dirname(dir); d = path.dirname(d))
      chmodSync(d, 0o755);
    symlinkSync("releases/20261201T120000Z", path.join(deployPath, "current"));
    const apache = await startApache(
      path.join(dir, `apache-${servers.length}`),
      (listen) =>
        DEBIAN_ROOT +
        apacheConfig(
          { deployPath, webroot: "public", listen, serverName: "_" },
          { sapi: "fpm", fpm: fpm.socket },
        ),
    );
    servers.push(apache);
    for (const p of ["/", "/some/route"]) {
      const res = await fetch(`${apache.url}${p}`);
      assert.equal(`${res.status} ${await res.text()}`, "200 the app", `${name}: ${p}`);
    }
    await apache.stop();
  }
});
