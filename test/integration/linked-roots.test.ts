import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { judgeApache } from "../../src/integrations/web/apache-judge.js";
import { parseApache } from "../../src/integrations/web/apache-parse.js";
import {
  deployRoots,
  parseLinkedRoots,
  resolveRoots,
  rootsOutside,
} from "../../src/integrations/web/linked-roots.js";
import { parseNginx } from "../../src/integrations/web/nginx-parse.js";

/**
 * doctor judges a site whose web root reaches the deploy path through a link on the host: the
 * roots are resolved there by a small program, whose answer is read as untrusted.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), "cutover-roots-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the host resolves each root: links into the deploy path (odd names too) count, others and missing ones do not", () => {
  const deploy = path.join(dir, "deploy 'ü'\nx");
  mkdirSync(path.join(deploy, "releases/20260101T000000Z/public"), { recursive: true });
  symlinkSync("releases/20260101T000000Z", path.join(deploy, "current"));
  const elsewhere = path.join(dir, "other");
  mkdirSync(elsewhere);
  const roots = {
    public: path.join(dir, 'www "html"'),
    whole: path.join(dir, "whole\nline"),
    other: path.join(dir, "other-link"),
    missing: path.join(dir, "nothing here"),
    dangling: path.join(dir, "dangling"),
  };
  symlinkSync(path.join(deploy, "current/public"), roots.public);
  symlinkSync(deploy, roots.whole);
  symlinkSync(elsewhere, roots.other);
  symlinkSync(path.join(dir, "gone/deeper"), roots.dangling);
  const asked = Object.values(roots);
  const { argv } = resolveRoots(deploy, asked);
  const run = spawnSync(argv[0]!, argv.slice(1));
  assert.equal(run.status, 0, String(run.stderr));
  assert.deepEqual(
    [...parseLinkedRoots(run.stdout.toString("utf8"), deploy, asked)].sort(),
    [roots.public, roots.whole].sort(),
  );
});

test("the host's answer counts only for roots that were asked, and only with the deploy path resolved", () => {
  const asked = ["/var/www/html", "/srv/site"];
  const answer = (pairs: string[][]) => pairs.map(([a, b]) => `${a}\0${b}\0`).join("");
  assert.deepEqual(
    [
      ...parseLinkedRoots(
        answer([
          ["/srv/app", "/data/app"],
          ["/var/www/html", "/data/app/releases/1/public"],
          ["/etc", "/data/app"],
          ["/srv/site", "/data/application"],
        ]),
        "/srv/app",
        asked,
      ),
    ],
    ["/var/www/html"],
  );
  assert.deepEqual(
    [...parseLinkedRoots(answer([["/var/www/html", "/"]]), "/srv/app", asked)],
    [],
    "no deploy path",
  );
  assert.deepEqual(
    [
      ...parseLinkedRoots(
        answer([
          ["/srv/app", ""],
          ["/var/www/html", ""],
        ]),
        "/srv/app",
        asked,
      ),
    ],
    [],
  );
  assert.deepEqual([...parseLinkedRoots("garbage\0", "/srv/app", asked)], []);
});

test("the roots asked about: literal absolute ones outside the deploy path, nginx and Apache, nested too", () => {
  const nginx = parseNginx(
    new Map([
      [
        "/n.conf",
        'http { root /var/www/html; server { root "/srv/app/current/public"; location /x { root /srv/other; } } server { root $vhost_root; root relative; } }',
      ],
    ]),
    "/n.conf",
    ["/"],
  );
  const apache = parseApache(
    new Map([
      [
        "/a.conf",
        'DocumentRoot "/var/www/html"\n<VirtualHost *:80>\n<IfModule x>\nDocumentRoot /srv/apache\n</IfModule>\n</VirtualHost>\n',
      ],
    ]),
    "/a.conf",
    "/etc/apache2",
  );
  assert.deepEqual(rootsOutside(nginx.directives, apache.directives, "/srv/app"), [
    "/var/www/html",
    "/srv/other",
    "/srv/apache",
  ]);
});

test("Apache: a DocumentRoot linking into the deploy path is judged, and the finding says where it leads", () => {
  const apache = parseApache(
    new Map([["/a.conf", "<VirtualHost *:80>\nDocumentRoot /var/www/html\n</VirtualHost>\n"]]),
    "/a.conf",
    "/etc/apache2",
  );
  assert.deepEqual(judgeApache(apache.directives, deployRoots("/srv/app"), false), []);
  const findings = judgeApache(apache.directives, deployRoots("/srv/app", new Set(["/var/www/html"])), false);
  assert.equal(findings.length, 1);
  assert.match(
    findings[0]!.message,
    /serves \/var\/www\/html \(a link into \/srv\/app\) as Apache's DocumentRoot/,
  );
});
