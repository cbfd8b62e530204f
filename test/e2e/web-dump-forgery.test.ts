import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { nginxEscape } from "../../src/integrations/web/server-config.js";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { type Daemon, startFpm, startNginx } from "../helpers/web.js";

interface Finding {
  level: string;
  check: string;
  message: string;
}

/**
 * `nginx -T` prints each file behind a line `# configuration file PATH:` and nothing marks where
 * a file ends: a comment line of that form inside a site file would, read as the dump's own
 * marker, move the site's blocks into a file nobody includes, and doctor would judge the naive
 * site clean while nginx serves it.
 */
test("doctor: a site file holding a line like nginx -T's file marker is still judged as nginx reads it", async () => {
  const fx = fixture("dump forgery");
  chmodSync(fx.dir, 0o755);
  chmodSync(fx.app, 0o755);
  fx.file("index.php", "<?php echo 'the app';\n");
  const servers: Daemon[] = [];
  try {
    const fpm = await startFpm(path.join(fx.dir, "fpm"), { validateTimestamps: true });
    servers.push(fpm);
    fx.writeConfig({ php: { fpm: [{ socket: fpm.socket, reset: "none" }] } });
    const first = await cutover(["--json", "deploy"], fx.app);
    assert.equal(first.code, 0, first.stderr);
    const dir = path.join(fx.dir, "nginx");
    const site = path.join(dir, "site.conf");
    const nginx = await startNginx(dir, (listen) => {
      writeFileSync(
        site,
        `# configuration file ${dir}/elsewhere.conf:
server {
    listen ${listen};
    root "${nginxEscape(`${fx.deployPath}/current/public`)}";
    location ~ \\.php$ {
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_pass "unix:${fpm.socket}";
    }
}
`,
      );
      return `geo $cutover_dollar { default "$"; }\ninclude "${site}";`;
    });
    servers.push(nginx);
    assert.equal((await fetch(`${nginx.url}/index.php`)).status, 200, "the naive site serves the app");
    const r = await cutover(["--json", "doctor"], fx.app);
    const findings = json<Finding[]>(r).filter((f) => f.check === "nginx");
    assert.equal(findings.length, 1, JSON.stringify(findings, null, 1));
    assert.match(findings[0]!.message, /site\.conf:7 .*passes SCRIPT_FILENAME from \$document_root/);
  } finally {
    await Promise.all(servers.map((d) => d.stop()));
    fx.cleanup();
  }
});
