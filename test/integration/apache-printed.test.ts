import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { apacheConfig } from "../../src/integrations/web/server-config.js";

/**
 * The printed Apache vhost goes where Debian keeps sites, beside ports.conf, which already says
 * `Listen 80`: a second Listen for the same address makes Apache refuse its whole configuration.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), "cutover-apache-printed-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the printed vhost passes apache2 -t beside a ports.conf that listens on its address", () => {
  const listen = "127.0.0.1:8089";
  const vhost = apacheConfig(
    { deployPath: "/srv/my app", webroot: "public", listen, serverName: "app.test" },
    { sapi: "fpm", fpm: "/run/php/app.sock" },
  );
  assert.doesNotMatch(vhost, /^\s*Listen\b/m, "no Listen of its own");
  assert.match(vhost, new RegExp(`Listen ${listen}`), "it says which Listen Apache needs");
  writeFileSync(path.join(dir, "vhost.conf"), vhost);
  writeFileSync(
    path.join(dir, "apache2.conf"),
    `ServerRoot "/etc/apache2"
DefaultRuntimeDir "${dir}"
PidFile "${dir}/apache.pid"
ErrorLog "${dir}/error.log"
${["mpm_event", "authz_core", "dir", "mime", "proxy", "proxy_fcgi", "setenvif"].map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`).join("\n")}
ServerName localhost
# Debian's ports.conf
Listen ${listen}
Include "${dir}/vhost.conf"
`,
  );
  const r = spawnSync("apache2", ["-t", "-f", path.join(dir, "apache2.conf")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
});
