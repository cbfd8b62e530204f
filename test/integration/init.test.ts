import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { parseConfigText } from "../../src/config/load.js";
import { SCHEMA_PATH } from "../../src/config/schema-file.js";
import { cutover, ROOT } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";

function app(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cutover init "));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

const CASES: [string, Record<string, string>, RegExp[]][] = [
  [
    "laravel",
    { artisan: "", "bootstrap/app.php": "", "composer.json": "{}" },
    [/- "storage"/, /- "\.env"/, /- "bootstrap\/cache"/, /composer install/],
  ],
  [
    "symfony",
    { "bin/console": "", "config/bundles.php": "" },
    [/- "var\/log"/, /- "\.env\.local"/, /- "var\/cache"/],
  ],
  ["wordpress", { "wp-login.php": "" }, [/- "wp-content\/uploads"/, /- "wp-config\.php"/]],
  ["php", { "index.php": "", ".env": "" }, [/shared_files:\n {2}- "\.env"/]],
];

const SCHEMA = readFileSync(path.join(ROOT, SCHEMA_PATH), "utf8");
const schemaRef = (text: string) => /^# yaml-language-server: \$schema=(.+)$/m.exec(text)?.[1] ?? "(none)";

test("init in a project with cutover in node_modules names its schema relatively (right on every clone)", async () => {
  const dir = app({ "index.php": "", [`node_modules/cutover/${SCHEMA_PATH}`]: SCHEMA });
  try {
    const r = await cutover(["init"], dir);
    assert.equal(r.code, 0, r.stderr);
    const text = readFileSync(path.join(dir, "cutover.yaml"), "utf8");
    assert.equal(schemaRef(text), `./node_modules/cutover/${SCHEMA_PATH}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [framework, files, expected] of CASES) {
  test(`init detects ${framework} and writes a valid, commented cutover.yaml`, async () => {
    const dir = app(files);
    try {
      const r = await cutover(["init", "--path", "/srv/my app"], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`detected ${framework}`));
      const text = readFileSync(path.join(dir, "cutover.yaml"), "utf8");
      for (const e of expected) assert.match(text, e);
      assert.equal(
        readFileSync(path.resolve(dir, schemaRef(text)), "utf8"),
        SCHEMA,
        "$schema= names the schema",
      );
      assert.match(text, /^# /m);
      const config = parseConfigText(text, "cutover.yaml");
      assert.equal(
        config.stages?.production?.hosts[0] &&
          "path" in config.stages.production.hosts[0] &&
          config.stages.production.hosts[0].path,
        "/srv/my app",
      );
      // The commented php: block is valid as written, in both variants, once uncommented.
      const lines = text.split("\n");
      const start = lines.indexOf("# php:");
      const apache = lines.findIndex((l) => l.startsWith("# or, for Apache"));
      const uncomment = (ls: string[]) => ls.map((l) => l.slice(2)).join("\n");
      const fpm = parseConfigText(`${text}\n${uncomment(lines.slice(start, apache))}\n`, "cutover.yaml");
      assert.equal(fpm.php?.fpm?.[0]?.reset, "opcache");
      const modPhp = parseConfigText(
        `${text}\nphp:\n${uncomment(lines.slice(apache + 1, apache + 3))}\n`,
        "cutover.yaml",
      );
      assert.equal(modPhp.php?.mod_php, true);
      const again = await cutover(["init"], dir);
      assert.equal(again.code, 2);
      assert.match(again.stderr, /already exists.*\n.*--force/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("writable_dirs: mode and owner/group are applied in the release", async () => {
  const fx = fixture();
  try {
    fx.writeConfig({
      writable_dirs: [{ path: "var/cache", mode: "2770", owner: "www-data", group: "www-data" }],
    });
    const r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const st = statSync(path.join(fx.deployPath, "current/var/cache"));
    assert.equal((st.mode & 0o7777).toString(8), "2770");
    assert.equal(st.uid, 33);
    assert.equal(st.gid, 33);
  } finally {
    fx.cleanup();
  }
});
