import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { apacheConfig, nginxConfig } from "../../src/integrations/web/server-config.js";
import { type Daemon, startApache, startFpm, startNginx } from "../helpers/web.js";

/**
 * The configs `server-config` prints for `--webroot .` (the release root is the web root), loaded
 * into a real nginx and Apache with php-fpm: files of the source that hold secrets or code must
 * answer 403/404, not their text, while the app and ordinary static files keep working.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), "cutover-web-deny-"));
const deployPath = path.join(dir, "deploy path");
const release = path.join(deployPath, "releases", "20261201T120000Z");
const servers: Daemon[] = [];
const urls: Record<"nginx" | "apache", string> = { nginx: "", apache: "" };

const files: Record<string, string> = {
  "index.php": "<?php echo 'the app';\n",
  "assets/app.json": '{"static":true}\n',
  "composer.json": '{"require":{"php":">=8.2"}}\n',
  "composer.lock": '{"packages":[]}\n',
  "auth.json": '{"github-oauth":{"github.com":"ghp_secret"}}\n',
  // Left by editors and tools beside the file they edit; a source directory is uploaded as it is.
  "config.php~": "<?php $password = 'emacs backup';\n",
  "#config.php#": "<?php $password = 'emacs autosave';\n",
  "config.php.save": "<?php $password = 'nano on a hangup';\n",
  "config.php.bak": "<?php $password = 'a copy by hand';\n",
  "config.php.old": "<?php $password = 'a copy by hand';\n",
  "config.php.orig": "<?php $password = 'patch or a merge tool';\n",
  "#.env#": "APP_KEY=emacs autosave of .env\n",
  // PHP source under names php-fpm does not run (security.limit_extensions is .php): as text they
  // would hand out the code, secrets and all.
  "views/page.phtml": "<?php $password = 'a phtml template';\n",
  "views/page.pht": "<?php $password = 'a pht template';\n",
  "LEGACY.PHP": "<?php $password = 'an uppercase extension';\n",
  "Mixed.Php": "<?php $password = 'a mixed-case extension';\n",
  "legacy.php5": "<?php $password = 'php5';\n",
  "legacy.php7": "<?php $password = 'php7';\n",
  "tool.phar": "<?php $password = 'a phar stub'; __HALT_COMPILER();\n",
  "source.phps": "<?php $password = 'phps';\n",
  "lib/db.inc": "<?php $password = 'an include file';\n",
  "tests/case.phpt": "--FILE--\n<?php $password = 'a phpt test';\n",
  // Composer's vendor/: libraries, never meant for the web. phpunit's eval-stdin.php runs whatever
  // is posted to it (CVE-2017-9841); under the web root php-fpm would run it.
  "vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php":
    "<?php eval('?>' . file_get_contents('php://input'));\n",
  "vendor/autoload.php": "<?php echo 'the autoloader ran';\n",
  "vendor/composer/installed.json": '{"packages":[{"name":"phpunit/phpunit"}]}\n',
  "vendor/composer/LICENSE": "Copyright (c) Nils Adermann, Jordi Boggiano\n",
  // Names that only look like it stay public.
  "assets/vendor/lib.js": "window.lib = 1;\n",
  "vendors.txt": "a static file\n",
};

before(async () => {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(release, name)), { recursive: true });
    writeFileSync(path.join(release, name), text);
  }
  for (let d = path.join(release, "assets"); d !== path.dirname(dir); d = path.dirname(d))
    chmodSync(d, 0o755);
  symlinkSync("releases/20261201T120000Z", path.join(deployPath, "current"));
  const fpm = await startFpm(path.join(dir, "fpm"), { validateTimestamps: true });
  servers.push(fpm);
  const input = (listen: string) => ({ deployPath, webroot: ".", listen, serverName: "_" });
  const nginx = await startNginx(path.join(dir, "nginx"), (l) => nginxConfig(input(l), fpm.socket));
  servers.push(nginx);
  const apache = await startApache(path.join(dir, "apache"), (l) =>
    apacheConfig(input(l), { sapi: "fpm", fpm: fpm.socket }),
  );
  servers.push(apache);
  urls.nginx = nginx.url;
  urls.apache = apache.url;
});

after(async () => {
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function refused(server: "nginx" | "apache", paths: readonly string[]): Promise<void> {
  const served: string[] = [];
  for (const p of paths) {
    const res = await fetch(`${urls[server]}${p}`);
    const body = await res.text();
    if (res.status !== 403 && res.status !== 404) served.push(`${p}: ${res.status} ${body.trim()}`);
  }
  assert.deepEqual(served, [], `${server} served what it must refuse`);
  assert.equal(await (await fetch(`${urls[server]}/`)).text(), "the app");
  assert.equal(await (await fetch(`${urls[server]}/index.php`)).text(), "the app", "a .php file runs");
  assert.equal(await (await fetch(`${urls[server]}/assets/app.json`)).text(), files["assets/app.json"]);
}

for (const server of ["nginx", "apache"] as const) {
  test(`${server}, --webroot .: Composer's auth.json (its credentials), composer.json and composer.lock are refused`, () =>
    refused(server, ["/auth.json", "/composer.json", "/composer.lock"]));
}

for (const server of ["nginx", "apache"] as const) {
  test(`${server}: backups and editor leftovers of a PHP file (config.php~, #config.php#, .save, .bak, .old, .orig) and an autosave of .env are refused, not served as text`, () =>
    refused(server, [
      "/config.php~",
      "/%23config.php%23",
      "/config.php.save",
      "/config.php.bak",
      "/config.php.old",
      "/config.php.orig",
      "/%23.env%23",
    ]));
}

for (const server of ["nginx", "apache"] as const) {
  test(`${server}: PHP source under other names (.phtml, .pht, .PHP, .Php, .php5, .php7, .phar, .phps, .inc, .phpt) is refused, not served as text`, () =>
    refused(server, [
      "/views/page.phtml",
      "/views/page.pht",
      "/LEGACY.PHP",
      "/Mixed.Php",
      "/legacy.php5",
      "/legacy.php7",
      "/tool.phar",
      "/source.phps",
      "/lib/db.inc",
      "/tests/case.phpt",
    ]));
}

for (const server of ["nginx", "apache"] as const) {
  test(`${server}, --webroot .: Composer's vendor/ is refused (phpunit's eval-stdin.php, CVE-2017-9841, never runs); assets/vendor/ and vendors.txt stay public`, async () => {
    const rce = await fetch(`${urls[server]}/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php`, {
      method: "POST",
      body: "<?php echo 'ran ' . 'posted code';",
    });
    const body = await rce.text();
    assert.doesNotMatch(body, /ran posted code/, `${server} ran posted code`);
    assert.ok(rce.status === 403 || rce.status === 404, `${server} eval-stdin.php: ${rce.status} ${body}`);
    await refused(server, [
      "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
      "/vendor/autoload.php",
      "/vendor/composer/installed.json",
      "/vendor/composer/LICENSE",
      "/vendor/",
      "/vendor",
      "//vendor/composer/LICENSE",
      "/assets/../vendor/composer/LICENSE",
      "/%76endor/composer/LICENSE",
    ]);
    assert.equal(
      await (await fetch(`${urls[server]}/assets/vendor/lib.js`)).text(),
      files["assets/vendor/lib.js"],
    );
    assert.equal(await (await fetch(`${urls[server]}/vendors.txt`)).text(), files["vendors.txt"]);
  });
}
