import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { Probe } from "../../src/probe/probe.js";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { startFpm, startNginx } from "../helpers/web.js";

/**
 * A deploy path made by hand (`current` a real directory) served by real nginx + php-fpm under
 * HTTP load while `cutover adopt --migrate` turns it into a release: not one request may fail.
 */
const fx = fixture();
after(() => fx.cleanup());

test("adopt --migrate under load: current becomes a link to a release with 0 failed requests", async () => {
  chmodSync(fx.dir, 0o755); // php-fpm runs as www-data
  const root = path.join(fx.dir, "served by hand");
  mkdirSync(path.join(root, "current/public"), { recursive: true });
  writeFileSync(path.join(root, "current/public/index.php"), "<?php usleep(2000); echo 'by hand';");
  const fpm = await startFpm(path.join(fx.dir, "fpm"), { validateTimestamps: true });
  const nginx = await startNginx(
    path.join(fx.dir, "nginx"),
    (listen) => `server {
  listen ${listen};
  root "${root}/current/public";
  index index.php;
  location ~ \\.php$ {
    include fastcgi_params;
    fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;
    fastcgi_pass "unix:${fpm.socket}";
  }
}`,
  );
  try {
    fx.writeConfig({ shared_dirs: [], shared_files: [], writable_dirs: [] }, [{ path: root }]);
    const probe = new Probe({ url: `${nginx.url}/`, concurrency: 16, maxDurationMs: 30_000 });
    probe.start();
    await new Promise((r) => setTimeout(r, 700));
    const m = await cutover(["adopt", "--migrate"], fx.app);
    await new Promise((r) => setTimeout(r, 700));
    const samples = await probe.stop();
    assert.equal(m.code, 0, m.stderr);
    assert.match(readlinkSync(path.join(root, "current")), /^releases\/\d{8}T\d{6}Z$/);
    const failed = samples.filter((s) => s.status !== 200 || s.error !== null);
    assert.ok(samples.length > 200, `only ${samples.length} requests`);
    assert.deepEqual(failed, [], `${failed.length} of ${samples.length} requests failed`);
  } finally {
    await nginx.stop();
    await fpm.stop();
  }
});
