import assert from "node:assert/strict";
import { test } from "node:test";
import { deployRoots } from "../../src/integrations/web/linked-roots.js";
import { judgeNginx } from "../../src/integrations/web/nginx-judge.js";
import { parseNginx } from "../../src/integrations/web/nginx-parse.js";
import { nginxEscape } from "../../src/integrations/web/server-config.js";

const DEPLOY = '/srv/my "app" $X';
const quoted = (p: string) => `"${nginxEscape(p)}"`;

/** A server block for the deploy path whose PHP location passes `script` as SCRIPT_FILENAME. */
const site = (script: string, extra = "") => `server {
  root ${quoted(`${DEPLOY}/current/public`)};
  ${extra}
  location ~ \\.php$ {
    fastcgi_param SCRIPT_FILENAME ${script};
    fastcgi_pass unix:/run/fpm.sock;
  }
}`;

const judge = (text: string, linked: string[] = []) =>
  judgeNginx(
    parseNginx(new Map([["/x/site.conf", text]]), "/x/site.conf", ["/x"]).directives,
    deployRoots(DEPLOY, new Set(linked)),
    false,
  );

test("nginx: SCRIPT_FILENAME written as a literal path through current (or a `set` variable holding one) is an error, as $document_root is", () => {
  const literal = `"${nginxEscape(`${DEPLOY}/current/public`)}$fastcgi_script_name"`;
  for (const text of [
    site(literal),
    site(`$app_root$fastcgi_script_name`, `set $app_root ${quoted(`${DEPLOY}/current/public`)};`),
    site(quoted(`${DEPLOY}/current/public/index.php`)),
  ]) {
    const { findings, resolvesPerRequest } = judge(text);
    assert.deepEqual(
      findings.map((f) => f.level),
      ["error"],
      text,
    );
    assert.match(findings[0]!.message, /^\/x\/site\.conf:5 passes SCRIPT_FILENAME from .*current/);
    assert.equal(resolvesPerRequest, false);
  }
  // A root outside the deploy path that links to current/public, written literally: the same.
  const linked = site("/var/www/html$fastcgi_script_name").replace(
    quoted(`${DEPLOY}/current/public`),
    "/var/www/html",
  );
  assert.deepEqual(
    judge(linked, ["/var/www/html"]).findings.map((f) => f.level),
    ["error"],
  );
  // Not through current: a literal release path, a shared script, $realpath_root: no finding here.
  for (const script of [
    quoted(`${DEPLOY}/shared/router.php`),
    "$realpath_root$fastcgi_script_name",
    "/elsewhere$fastcgi_script_name",
  ])
    assert.deepEqual(judge(site(script)).findings, [], script);
});

test("nginx: a PHP location whose root is elsewhere but whose SCRIPT_FILENAME is a literal path through current is judged too", () => {
  const text = `server {
  root /var/www/static;
  location / {
    fastcgi_param SCRIPT_FILENAME ${quoted(`${DEPLOY}/current/public/index.php`)};
    fastcgi_pass unix:/run/fpm.sock;
  }
}`;
  const { findings } = judge(text);
  assert.deepEqual(
    findings.map((f) => f.level),
    ["error"],
  );
  assert.match(
    findings[0]!.message,
    /^\/x\/site\.conf:4 passes SCRIPT_FILENAME from .*current\/public\/index\.php/,
  );
  // The same location passing a script under its own root: not this deploy path's site.
  assert.deepEqual(
    judge(
      text.replace(
        /fastcgi_param SCRIPT_FILENAME .*;/,
        "fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;",
      ),
    ).findings,
    [],
  );
});
