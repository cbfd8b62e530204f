import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

/**
 * Config files read from a host are untrusted: an include loop, or files that each include the
 * whole directory again, must not keep `cutover doctor` parsing forever. Parsed in a child
 * process, so a parser that never returns fails the test (killed at the limit) instead of hanging it.
 */
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/integrations/web");

function parseApart(kind: "nginx" | "apache", files: Record<string, string>, main: string): string[] {
  const code = `import { parseNginx } from ${JSON.stringify(path.join(SRC, "nginx-parse.ts"))};
    import { parseApache } from ${JSON.stringify(path.join(SRC, "apache-parse.ts"))};
    const texts = new Map(Object.entries(${JSON.stringify(files)}));
    const parsed = ${kind === "nginx" ? 'parseNginx(texts, process.argv[1], ["/etc/nginx"])' : 'parseApache(texts, process.argv[1], "/etc/apache2")'};
    const names = [];
    const walk = (ds) => { for (const d of ds) { names.push(d.name); walk(d.block ?? d.body ?? []); } };
    walk(parsed.directives);
    process.stdout.write(JSON.stringify(names));`;
  const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code, main], {
    timeout: 10_000,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(run.signal, null, "the parser did not return within 10 s and was killed");
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as string[];
}

const DIR_FILES = 10;

test("nginx: files that each include their whole directory again are parsed in bounded time", () => {
  const files: Record<string, string> = {
    "/etc/nginx/nginx.conf": "http {\n  include /etc/nginx/conf.d/*.conf;\n}\n",
  };
  for (let i = 0; i < DIR_FILES; i++)
    files[`/etc/nginx/conf.d/${i}.conf`] =
      `include /etc/nginx/conf.d/*.conf;\nserver { root /srv/app${i}/current/public; }\n`;
  const names = parseApart("nginx", files, "/etc/nginx/nginx.conf");
  // Every file's server block is still read.
  assert.ok(names.filter((n) => n === "server").length >= DIR_FILES);
});

test("Apache: files that each Include their whole directory again are parsed in bounded time", () => {
  const files: Record<string, string> = {
    "/etc/apache2/apache2.conf": "IncludeOptional conf.d/*.conf\n",
  };
  for (let i = 0; i < DIR_FILES; i++)
    files[`/etc/apache2/conf.d/${i}.conf`] =
      `IncludeOptional conf.d/*.conf\n<VirtualHost *:80>\nDocumentRoot /srv/app${i}/current\n</VirtualHost>\n`;
  const names = parseApart("apache", files, "/etc/apache2/apache2.conf");
  assert.ok(names.filter((n) => n === "VirtualHost").length >= DIR_FILES);
});

test("a config that includes itself is still read once, and says where the loop is", async () => {
  const { parseNginx } = await import("../../src/integrations/web/nginx-parse.js");
  const { parseApache } = await import("../../src/integrations/web/apache-parse.js");
  const site = "include /etc/nginx/sites-enabled/app;\nserver { root /srv/app/current; }\n";
  const n = parseNginx(new Map([["/etc/nginx/sites-enabled/app", site]]), "/etc/nginx/sites-enabled/app", [
    "/etc/nginx",
  ]);
  assert.deepEqual(n.files, ["/etc/nginx/sites-enabled/app"]);
  assert.equal(n.directives.filter((d) => d.name === "server").length, 1);
  assert.match(n.cut ?? "", /sites-enabled\/app:1 includes \/etc\/nginx\/sites-enabled\/app.*include loop/);
  const vhost =
    "Include /etc/apache2/sites-enabled/app.conf\n<VirtualHost *:80>\nDocumentRoot /srv/app/current\n</VirtualHost>\n";
  const a = parseApache(
    new Map([["/etc/apache2/sites-enabled/app.conf", vhost]]),
    "/etc/apache2/sites-enabled/app.conf",
    "/etc/apache2",
  );
  assert.deepEqual(a.files, ["/etc/apache2/sites-enabled/app.conf"]);
  assert.match(a.cut ?? "", /include loop/);
});

test("a large legitimate config (600 sites, each including snippets twice) is read in full", async () => {
  const { parseNginx } = await import("../../src/integrations/web/nginx-parse.js");
  const texts = new Map<string, string>([
    ["/etc/nginx/nginx.conf", "http {\n  include /etc/nginx/sites-enabled/*;\n}\n"],
    ["/etc/nginx/snippets/fastcgi-php.conf", "fastcgi_index index.php;\ninclude fastcgi.conf;\n"],
    ["/etc/nginx/fastcgi.conf", "fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n"],
  ]);
  for (let i = 0; i < 600; i++)
    texts.set(
      `/etc/nginx/sites-enabled/site${i}`,
      `server {\n  root /srv/s${i}/current;\n  location ~ \\.php$ { include snippets/fastcgi-php.conf; fastcgi_pass x; }\n  location /a { include snippets/fastcgi-php.conf; fastcgi_pass x; }\n}\n`,
    );
  const parsed = parseNginx(texts, "/etc/nginx/nginx.conf", ["/etc/nginx"]);
  assert.equal(parsed.cut, undefined);
  assert.equal(parsed.files.length, 1 + 600 + 600 * 2 * 2);
});
