import assert from "node:assert/strict";
import { test } from "node:test";
import { judgeApache } from "../../src/integrations/web/apache-judge.js";
import { parseApache } from "../../src/integrations/web/apache-parse.js";
import {
  parseConfigFiles,
  parseNginxDump,
  parseWebServers,
} from "../../src/integrations/web/config-probe.js";
import { parseCandidates, pathsToAsk } from "../../src/integrations/web/exposed.js";
import { deployRoots } from "../../src/integrations/web/linked-roots.js";
import { judgeNginx } from "../../src/integrations/web/nginx-judge.js";
import { parseNginx } from "../../src/integrations/web/nginx-parse.js";
import { apacheConfig, NGINX_DOLLAR, nginxConfig } from "../../src/integrations/web/server-config.js";

const DEPLOY = '/srv/my "app" $X';

/** Debian's stock PHP snippet and the fastcgi.conf it includes (line 2 sets SCRIPT_FILENAME). */
const DEBIAN = {
  "/etc/nginx/snippets/fastcgi-php.conf": `# regex to split $uri to $fastcgi_script_name and $fastcgi_path
fastcgi_split_path_info ^(.+?\\.php)(/.*)$;

# Check that the PHP script exists before passing it
try_files $fastcgi_script_name =404;

# Bypass the fact that try_files resets $fastcgi_path_info
# see: http://trac.nginx.org/nginx/ticket/321
set $path_info $fastcgi_path_info;
fastcgi_param PATH_INFO $path_info;

fastcgi_index index.php;
include fastcgi.conf;`,
  "/etc/nginx/fastcgi.conf": `
fastcgi_param  SCRIPT_FILENAME    $document_root$fastcgi_script_name;
fastcgi_param  QUERY_STRING       $query_string;
fastcgi_param  DOCUMENT_ROOT      $document_root;`,
  "/etc/nginx/nginx.conf": `user www-data;
events { worker_connections 768; }
http {
\tinclude /etc/nginx/conf.d/*.conf;
\tinclude /etc/nginx/sites-enabled/*;
}`,
};

const nginx = (files: Record<string, string>, main = "/etc/nginx/nginx.conf", resets = false) => {
  const parsed = parseNginx(new Map(Object.entries(files)), main, ["/etc/nginx"]);
  return { parsed, judged: judgeNginx(parsed.directives, deployRoots(DEPLOY), resets) };
};

test("nginx: Debian's `include snippets/fastcgi-php.conf` under the deploy path is an error naming the chain of files and lines", () => {
  const site = `server {
\tlisten 80 default_server;
\troot "/srv/my \\"app\\" \${cutover_dollar}X/current/public";
\tindex index.php;
\tserver_name _;
\tlocation / {
\t\ttry_files $uri $uri/ =404;
\t}
\tlocation ~ \\.php$ {
\t\tinclude snippets/fastcgi-php.conf;
\t\tfastcgi_pass unix:/run/php/php8.2-fpm.sock;
\t}
}`;
  const { parsed, judged } = nginx({ ...DEBIAN, "/etc/nginx/sites-enabled/app": site });
  assert.deepEqual(parsed.unresolved, ["/etc/nginx/conf.d/*.conf"]);
  assert.equal(judged.findings.length, 1);
  const [f] = judged.findings;
  assert.equal(f!.level, "error");
  assert.ok(
    f!.message.startsWith(
      "/etc/nginx/fastcgi.conf:2 (reached from /etc/nginx/snippets/fastcgi-php.conf:13, from /etc/nginx/sites-enabled/app:10, from /etc/nginx/nginx.conf:5) passes SCRIPT_FILENAME from $document_root",
    ),
    f!.message,
  );
  assert.match(
    f!.message,
    /the server block at \/etc\/nginx\/sites-enabled\/app:1, location ~ \\\.php\$ at line 9\)/,
  );
  assert.equal(judged.resolvesPerRequest, false);
  assert.equal(
    nginx({ ...DEBIAN, "/etc/nginx/sites-enabled/app": site }, undefined, true).judged.findings[0]!.level,
    "warning",
  );
  // A later SCRIPT_FILENAME at the same level wins (php-fpm keeps the last one).
  const fixed = site.replace(
    "fastcgi_pass",
    "set $r $realpath_root;\n\t\tfastcgi_param SCRIPT_FILENAME $r$fastcgi_script_name;\n\t\tfastcgi_param DOCUMENT_ROOT $r;\n\t\tfastcgi_pass",
  );
  const good = nginx({ ...DEBIAN, "/etc/nginx/sites-enabled/app": fixed }).judged;
  assert.deepEqual(good.findings, []);
  assert.equal(good.resolvesPerRequest, true);
});

test("nginx: each server block and PHP location is judged on its own; other deploy paths are not looked at", () => {
  const three = `server {
    listen 80;
    server_name example.com;
    return 301 https://$host$request_uri;
}
server {
    listen 443;
    root /srv/other/current/public;
    location ~ \\.php$ {
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;
        fastcgi_pass 127.0.0.1:9000;
    }
}
server {
    listen 8080;
    root "${DEPLOY.replace(/"/g, '\\"')}/current/public";
    location / { try_files $uri /index.php; }
    location ~ \\.php$ {
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_pass 127.0.0.1:9000;
    }
}`;
  const { judged } = nginx(
    { "/etc/sites/three.conf": three, "/etc/nginx/fastcgi_params": "" },
    "/etc/sites/three.conf",
  );
  assert.equal(judged.findings.length, 1, JSON.stringify(judged.findings));
  assert.match(
    judged.findings[0]!.message,
    /^\/etc\/sites\/three\.conf:21 passes SCRIPT_FILENAME from \$document_root/,
  );
  assert.match(judged.findings[0]!.message, /server block at \/etc\/sites\/three\.conf:15,/);
});

test("nginx: the printed config is clean; the snippet resolving $realpath_root twice is a warning", () => {
  const printed = nginxConfig(
    { deployPath: DEPLOY, webroot: "public", listen: "80", serverName: "_" },
    "/run/fpm.sock",
  );
  const clean = nginx(
    {
      "/x/site.conf": printed,
      "/x/fastcgi_params": "fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;",
    },
    "/x/site.conf",
  );
  assert.deepEqual(clean.judged.findings, []);
  assert.equal(clean.judged.resolvesPerRequest, true);
  const twice = printed
    .replace(/\s*set \$cutover_root \$realpath_root;/, "")
    .replaceAll("$cutover_root", "$realpath_root");
  const warned = nginx({ "/x/site.conf": twice, "/x/fastcgi_params": "" }, "/x/site.conf").judged.findings;
  assert.deepEqual(
    warned.map((f) => f.level),
    ["warning"],
  );
  assert.match(
    warned[0]!.message,
    /^\/x\/site\.conf:\d+ and \/x\/site\.conf:\d+ use \$realpath_root for both/,
  );
  // A `set` alias of $document_root is still $document_root.
  const alias = printed.replace("set $cutover_root $realpath_root;", "set $cutover_root $document_root;");
  assert.deepEqual(
    nginx({ "/x/site.conf": alias }, "/x/site.conf").judged.findings.map((f) => f.level),
    ["error"],
  );
});

test("nginx: a block with its own fastcgi_param does not inherit the outer ones", () => {
  const site = `server {
  root ROOT;
  fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;
  location ~ \\.php$ {
    fastcgi_param QUERY_STRING $query_string;
    fastcgi_pass unix:/run/fpm.sock;
  }
}`.replace("ROOT", `"${DEPLOY.replace(/"/g, '\\"').replace("$", NGINX_DOLLAR)}/current"`);
  // Only QUERY_STRING reaches PHP: no SCRIPT_FILENAME to judge, and nothing resolved per request.
  const { judged } = nginx({ "/x/a.conf": site }, "/x/a.conf");
  assert.deepEqual(judged, { findings: [], resolvesPerRequest: false });
});

test("Apache: vhosts through Include/IncludeOptional (globs, relative to ServerRoot), inside <IfModule>, each judged", () => {
  const files = new Map(
    Object.entries({
      "/etc/apache2/apache2.conf": `ServerRoot "/etc/apache2"
# Include sites-enabled/nothing.conf
<IfModule mpm_event_module>
    StartServers 2
</IfModule>
IncludeOptional conf-enabled/*.conf
Include \\
  sites-enabled/*.conf`,
      "/etc/apache2/sites-enabled/000-default.conf": `<VirtualHost *:80>
    DocumentRoot /var/www/html
</VirtualHost>`,
      "/etc/apache2/sites-enabled/app.conf": `<IfModule mod_ssl.c>
<VirtualHost *:443>
    ServerName app
    DocumentRoot "${DEPLOY.replace(/"/g, '\\"')}/current/public"
</VirtualHost>
</IfModule>`,
    }),
  );
  const parsed = parseApache(files, "/etc/apache2/apache2.conf", "/etc/apache2");
  assert.deepEqual(parsed.unresolved, ["/etc/apache2/conf-enabled/*.conf"]);
  assert.deepEqual(parsed.files.slice(1), [
    "/etc/apache2/sites-enabled/000-default.conf",
    "/etc/apache2/sites-enabled/app.conf",
  ]);
  const findings = judgeApache(parsed.directives, deployRoots(DEPLOY), false);
  assert.equal(findings.length, 1);
  assert.ok(
    findings[0]!.message.startsWith(
      `/etc/apache2/sites-enabled/app.conf:4 (reached from /etc/apache2/apache2.conf:7) serves ${DEPLOY}/current/public as Apache's DocumentRoot for the VirtualHost *:443 at /etc/apache2/sites-enabled/app.conf:2`,
    ),
    findings[0]!.message,
  );
  assert.deepEqual(judgeApache(parsed.directives, deployRoots(DEPLOY), true), []);
  // The printed vhost parses back to its DocumentRoot.
  const printed = apacheConfig(
    { deployPath: DEPLOY, webroot: ".", listen: "80", serverName: "_" },
    { sapi: "mod_php" },
  );
  const own = parseApache(new Map([["/v.conf", printed]]), "/v.conf", "/etc/apache2");
  assert.match(
    judgeApache(own.directives, deployRoots(DEPLOY), false)[0]!.message,
    /^\/v\.conf:\d+ serves .*current as Apache's DocumentRoot/,
  );
});

test("host output: nginx masters (a -c path with spaces), Apache parents, nginx -T dumps, files behind markers", () => {
  const servers = parseWebServers(
    [
      "@@nginx /usr/sbin/nginx\t/usr/sbin/nginx -c /tmp/a b/nginx.conf -g daemon off;",
      "@@nginx /usr/sbin/nginx\t/usr/sbin/nginx",
      "@@apache /usr/sbin/apache2",
      "@@arg /usr/sbin/apache2",
      "@@arg -f",
      "@@arg /tmp/x y/apache2.conf",
      "@@arg -DFOREGROUND",
      "@@nginx-installed /usr/sbin/nginx",
    ].join("\n"),
  );
  assert.deepEqual(servers, {
    nginx: [
      { executable: "/usr/sbin/nginx", config: "/tmp/a b/nginx.conf" },
      { executable: "/usr/sbin/nginx", config: undefined },
    ],
    apache: [{ config: "/tmp/x y/apache2.conf", serverRoot: undefined }],
  });
  const dump = parseNginxDump(
    "# configuration file /etc/nginx/nginx.conf:\nhttp {\n include a.conf;\n}\n\n# configuration file /etc/nginx/a.conf:\nserver {}\n",
  );
  assert.deepEqual([...dump.keys()], ["/etc/nginx/nginx.conf", "/etc/nginx/a.conf"]);
  assert.equal(dump.get("/etc/nginx/a.conf"), "server {}\n");
  // A file's content cannot pass for a marker: every content line is behind "|".
  const files = parseConfigFiles("@@file /a\n@@real /r/a\n|root /x;\n|@@file /evil\n\n@@file /b\n|");
  assert.deepEqual(
    [...files.texts],
    [
      ["/a", "root /x;\n@@file /evil"],
      ["/b", ""],
    ],
  );
  assert.deepEqual([...files.real], [["/a", "/r/a"]]);
});

test("exposed files: hashes by URL path from the host's output; the paths never to serve come first", () => {
  const hash = "a".repeat(64);
  const candidates = parseCandidates(
    [
      `@@hash ${hash} /.env`,
      `@@hash ${"b".repeat(64)} /.env`,
      `@@hash ${hash} /.htaccess`,
      "@@hash short /.x",
      `@@hash ${hash} relative`,
    ].join("\n"),
  );
  assert.deepEqual([...candidates.keys()], ["/.env", "/.htaccess"]);
  assert.equal(candidates.get("/.env")!.size, 2);
  assert.deepEqual(pathsToAsk(candidates), ["/.env", "/cutover.yaml", "/.git/HEAD", "/.htaccess"]);
  const many = new Map(Array.from({ length: 20 }, (_, i) => [`/.f${i}`, new Set([hash])]));
  assert.equal(pathsToAsk(many).length, 10);
  // A root vendor/ and PHP source come before the dotfiles found: a release has many of those.
  many.set("/vendor/composer/LICENSE", new Set([hash]));
  many.set("/views/page.phtml", new Set([hash]));
  assert.deepEqual(pathsToAsk(many).slice(3, 5), ["/vendor/composer/LICENSE", "/views/page.phtml"]);
});

test("a root or DocumentRoot that names the deploy path in another spelling (//, /./) is still judged", () => {
  const site = (root: string) => `server {
    root ${root};
    location ~ \\.php$ {
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_pass 127.0.0.1:9000;
    }
}`;
  for (const root of ["/srv//app/current/public", "/srv/./app/current/public", "/srv/app/./current/"]) {
    const parsed = parseNginx(new Map([["/s.conf", site(root)]]), "/s.conf", ["/etc/nginx"]);
    const { findings } = judgeNginx(parsed.directives, deployRoots("/srv/app"), false);
    assert.equal(findings.length, 1, `root ${root}: ${JSON.stringify(findings)}`);
  }
  const vhost = "<VirtualHost *:80>\nDocumentRoot /srv//app/current\n</VirtualHost>\n";
  const parsed = parseApache(new Map([["/v.conf", vhost]]), "/v.conf", "/etc/apache2");
  assert.equal(judgeApache(parsed.directives, deployRoots("/srv/app"), false).length, 1);
});

test("nginx: an `alias` into the deploy path is judged like a root there (a nested location inherits it); a root elsewhere in the server does not hide it", () => {
  const site = `server {
    root /var/www/html;
    location /app/ {
        alias /srv/app/current/public/;
        location ~ \\.php$ {
            fastcgi_param SCRIPT_FILENAME $request_filename;
            fastcgi_pass 127.0.0.1:9000;
        }
    }
    location ~ \\.php$ {
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_pass 127.0.0.1:9000;
    }
}`;
  const parsed = parseNginx(new Map([["/s.conf", site]]), "/s.conf", ["/etc/nginx"]);
  const { findings } = judgeNginx(parsed.directives, deployRoots("/srv/app"), false);
  assert.equal(findings.length, 1, JSON.stringify(findings));
  assert.match(
    findings[0]!.message,
    /^\/s\.conf:6 passes SCRIPT_FILENAME from \$request_filename under the symlinked \/srv\/app\/current\/public\//,
  );
});

test("nginx: a PHP location for the deploy path that passes to a pool php.fpm does not name is a warning (that pool is never reset)", () => {
  const site = (pass: string, upstream = "") => `http {
${upstream}server {
  root /srv/app/current/public;
  location ~ \\.php$ {
    fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;
    fastcgi_pass ${pass};
  }
}
}`;
  const judge = (text: string, pools: string[], resets = true) =>
    judgeNginx(
      parseNginx(new Map([["/etc/nginx/nginx.conf", text]]), "/etc/nginx/nginx.conf", ["/etc/nginx"])
        .directives,
      deployRoots("/srv/app"),
      resets,
      pools,
    ).findings;
  const [other] = judge(site("unix:/run/php/php8.2-fpm.sock"), ["/run/php/app.sock"]);
  assert.equal(other?.level, "warning");
  assert.match(
    other!.message,
    /^\/etc\/nginx\/nginx\.conf:6 passes PHP to unix:\/run\/php\/php8\.2-fpm\.sock \(the server block at .*\), which is not a pool in php\.fpm \(\/run\/php\/app\.sock\)/,
  );
  assert.match(other!.fix, /socket: \/run\/php\/php8\.2-fpm\.sock/);
  assert.deepEqual(judge(site('"unix:/run/php/app.sock"'), ["/run/php/app.sock"]), []);
  assert.deepEqual(judge(site("127.0.0.1:9000"), ["localhost:9000"]), []);
  // An upstream's servers count; a variable cannot be judged; no reset configured: nothing to miss.
  const upstream = "upstream php { server unix:/run/a.sock; server 127.0.0.1:9001; }\n";
  assert.deepEqual(judge(site("php", upstream), ["127.0.0.1:9001"]), []);
  assert.equal(judge(site("php", upstream), ["127.0.0.1:9002"]).length, 1);
  assert.deepEqual(judge(site("$backend"), ["/run/php/app.sock"]), []);
  assert.deepEqual(judge(site("unix:/run/php/php8.2-fpm.sock"), ["/run/php/app.sock"], false), []);
});

test("apache: a vhost for the deploy path whose SetHandler hands PHP to a pool php.fpm does not name is a warning", () => {
  const vhost = (handler: string) =>
    parseApache(
      new Map([
        [
          "/etc/apache2/apache2.conf",
          `<VirtualHost *:80>
  DocumentRoot /srv/app/current/public
  <FilesMatch "\\.php$">
    SetHandler "${handler}"
  </FilesMatch>
</VirtualHost>
<VirtualHost *:81>
  DocumentRoot /srv/other/public
  SetHandler "proxy:unix:/run/php/other.sock|fcgi://localhost"
</VirtualHost>`,
        ],
      ]),
      "/etc/apache2/apache2.conf",
      "/etc/apache2",
    ).directives;
  const judge = (handler: string, pools: string[]) =>
    judgeApache(vhost(handler), deployRoots("/srv/app"), true, pools);
  const [f] = judge("proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost", ["/run/php/app.sock"]);
  assert.equal(f?.level, "warning");
  assert.match(
    f!.message,
    /^\/etc\/apache2\/apache2\.conf:4 hands PHP under \/srv\/app\/current\/public to php-fpm at \/run\/php\/php8\.2-fpm\.sock, which is not a pool in php\.fpm \(\/run\/php\/app\.sock\)/,
  );
  assert.equal(
    judge("proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost", ["/run/php/app.sock"]).length,
    1,
    "the other site's handler is not judged",
  );
  assert.deepEqual(judge("proxy:unix:/run/php/app.sock|fcgi://localhost", ["/run/php/app.sock"]), []);
  assert.deepEqual(judge("proxy:fcgi://localhost:9000", ["127.0.0.1:9000"]), []);
  assert.equal(judge("proxy:fcgi://127.0.0.1:9001", ["127.0.0.1:9000"]).length, 1);
});

test("apache: a DocumentRoot written with a Define'd ${VAR} is judged at the path it names (it was not judged)", () => {
  const parsed = parseApache(
    new Map([
      [
        "/etc/apache2/apache2.conf",
        `Define APP_ROOT /srv/app
Define WEB \${APP_ROOT}/current
<VirtualHost *:80>
  DocumentRoot "\${WEB}/public"
</VirtualHost>
<VirtualHost *:81>
  DocumentRoot \${NOT_DEFINED}/current/public
</VirtualHost>`,
      ],
    ]),
    "/etc/apache2/apache2.conf",
    "/etc/apache2",
  );
  const findings = judgeApache(parsed.directives, deployRoots("/srv/app"), false);
  assert.equal(findings.length, 1, JSON.stringify(findings));
  assert.match(
    findings[0]!.message,
    /^\/etc\/apache2\/apache2\.conf:4 serves \/srv\/app\/current\/public as Apache's DocumentRoot/,
  );
});

test("server-config denies vendor/ only with --webroot .: below public/, public/vendor/ holds the assets frameworks publish", () => {
  for (const webroot of [".", "./", "public"]) {
    const input = { deployPath: DEPLOY, webroot, listen: "80", serverName: "_" };
    const texts = [nginxConfig(input, "/run/php.sock"), apacheConfig(input, { sapi: "mod_php" })];
    for (const text of texts)
      assert.equal(text.includes("^/vendor(/|$)"), webroot !== "public", `${webroot}: ${text}`);
  }
});
