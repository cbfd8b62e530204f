import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { nginxEscape } from "../../src/integrations/web/server-config.js";
import { BIN, cutover, json } from "../helpers/cli.js";
import { type Fixture, fixture } from "../helpers/fixture.js";
import { type Daemon, type Fpm, startApache, startFpm, startNginx } from "../helpers/web.js";

interface Finding {
  host: string;
  level: string;
  check: string;
  message: string;
  fix: string;
}

/** A deployed fixture app served by a real php-fpm pool (the web server is up to each test). */
async function deployed(name: string, config: Record<string, unknown> = {}, reset = "none") {
  const fx = fixture(name);
  chmodSync(fx.dir, 0o755); // php-fpm's workers (www-data) read the release
  chmodSync(fx.app, 0o755);
  fx.file("index.php", "<?php echo 'the app';\n");
  const fpm = await startFpm(path.join(fx.dir, "fpm"), { validateTimestamps: true });
  const write = (extra: Record<string, unknown>, poolReset = reset) =>
    fx.writeConfig({ php: { fpm: [{ socket: fpm.socket, reset: poolReset }] }, ...config, ...extra });
  write({});
  const servers: Daemon[] = [fpm];
  /** Stops every server started (by PID) and removes the fixture, whatever happened. */
  const stop = async () => {
    await Promise.all(servers.map((d) => d.stop()));
    fx.cleanup();
  };
  const first = await cutover(["--json", "deploy"], fx.app);
  if (first.code !== 0) await stop();
  assert.equal(first.code, 0, first.stderr);
  const track = <T extends Daemon>(d: T) => {
    servers.push(d);
    return d;
  };
  return { fx, fpm, write, stop, track };
}

function printed(fx: Fixture, server: "nginx" | "apache", fpm: Fpm, listen: string, webroot = "public") {
  return execFileSync(
    process.execPath,
    [BIN, "server-config", server, "--listen", listen, "--fpm", fpm.socket, "--webroot", webroot],
    { cwd: fx.app },
  ).toString();
}

async function doctor(fx: Fixture, args: string[] = []): Promise<Finding[]> {
  const r = await cutover(["--json", "doctor", ...args], fx.app);
  assert.ok(r.code === 0 || r.code === 1, r.stdout + r.stderr);
  return json<Finding[]>(r);
}

const web = (findings: Finding[]) => findings.filter((f) => f.check === "nginx" || f.check === "apache");

/** Debian's files for PHP under nginx, next to the main config as in /etc/nginx. */
function debianNginx(dir: string): void {
  mkdirSync(path.join(dir, "snippets"), { recursive: true });
  copyFileSync("/etc/nginx/snippets/fastcgi-php.conf", path.join(dir, "snippets/fastcgi-php.conf"));
  copyFileSync("/etc/nginx/fastcgi.conf", path.join(dir, "fastcgi.conf"));
  mkdirSync(path.join(dir, "sites-available"));
  mkdirSync(path.join(dir, "sites-enabled"));
}

const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

test("doctor reads the running nginx through nginx -T: Debian's stock site with snippets/fastcgi-php.conf is an error naming fastcgi.conf:2 and the include chain; server-config's block is clean", async () => {
  const r = await deployed("stock nginx");
  const { fx, fpm } = r;
  const dir = path.join(fx.dir, "nginx");
  debianNginx(dir);
  const root = `${fx.deployPath}/current/public`;
  // /etc/nginx/sites-available/default with the PHP location uncommented, for this deploy path.
  const site = readFileSync("/etc/nginx/sites-available/default", "utf8")
    .replace(/^\tlisten .*\n/gm, "")
    .replace("root /var/www/html;", `listen LISTEN;\n\troot "${nginxEscape(root)}";`)
    .replace("index index.html", "index index.php index.html")
    .replace(/\t#location ~ \\\.php\$ \{\n[\s\S]*?\t#\}\n/, (block) =>
      block
        .replace("#location", "location")
        .replace("#\tinclude snippets", "\tinclude snippets")
        .replace(/#\tfastcgi_pass unix:.*;/, `\tfastcgi_pass "unix:${fpm.socket}";`)
        .replace("\t#}", "\t}"),
    );
  try {
    assert.match(site, /^\tlocation ~ \\\.php\$ \{\n\t\tinclude snippets\/fastcgi-php\.conf;$/m, site);
    const nginx = r.track(
      await startNginx(dir, (listen) => {
        writeFileSync(path.join(dir, "sites-available/app"), site.replace("LISTEN", listen));
        symlinkSync("../sites-available/app", path.join(dir, "sites-enabled/app"));
        return `geo $cutover_dollar { default "$"; }\ninclude sites-enabled/*;`;
      }),
    );
    assert.equal(await (await fetch(`${nginx.url}/`)).text(), "v1", "the stock site serves the app");
    const findings = web(await doctor(fx));
    assert.equal(findings.length, 1, JSON.stringify(findings, null, 1));
    const main = readFileSync(path.join(dir, "nginx.conf"), "utf8");
    const served = readFileSync(path.join(dir, "sites-available/app"), "utf8");
    assert.equal(findings[0]!.level, "error");
    assert.ok(
      findings[0]!.message.startsWith(
        `${dir}/fastcgi.conf:2 (reached from ${dir}/snippets/fastcgi-php.conf:13, from ${dir}/sites-enabled/app:${lineOf(served, "include snippets/fastcgi-php.conf")}, from ${dir}/nginx.conf:${lineOf(main, "include sites-enabled")}) passes SCRIPT_FILENAME from $document_root`,
      ),
      findings[0]!.message,
    );
    // The same files read from disk (--web-config) give the same verdict.
    const read = web(await doctor(fx, ["--web-config", dir]));
    assert.deepEqual(
      read.map((f) => f.message),
      findings.map((f) => f.message),
    );
    await nginx.stop();
    const clean = r.track(
      await startNginx(path.join(fx.dir, "printed"), (listen) => printed(fx, "nginx", fpm, listen)),
    );
    assert.equal(await (await fetch(`${clean.url}/`)).text(), "v1");
    assert.deepEqual(web(await doctor(fx)), []);
  } finally {
    await r.stop();
  }
});

test("one file with three server blocks (redirect; $realpath_root for another path; naive for this one): exactly one error, for the naive block's line", async () => {
  const r = await deployed("three blocks");
  const { fx, fpm } = r;
  const dir = path.join(fx.dir, "nginx");
  const conf = path.join(dir, "three.conf");
  const three = (listen: string) => {
    const text = `server {
    listen ${listen};
    server_name redirect.test;
    return 301 https://$host$request_uri;
}
server {
    listen ${listen};
    server_name other.test;
    root /srv/another-app/current/public;
    location ~ \\.php$ {
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;
        fastcgi_pass "unix:${fpm.socket}";
    }
}
server {
    listen ${listen} default_server;
    server_name app.test;
    root "${nginxEscape(`${fx.deployPath}/current/public`)}";
    location / {
        try_files $uri /index.php$is_args$args;
    }
    location ~ \\.php$ {
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_pass "unix:${fpm.socket}";
    }
}
`;
    writeFileSync(conf, text);
    return `geo $cutover_dollar { default "$"; }\ninclude three.conf;`;
  };
  try {
    const nginx = r.track(await startNginx(dir, three));
    assert.equal(await (await fetch(`${nginx.url}/`)).text(), "v1", "nginx loaded the file");
    for (const args of [[], ["--web-config", conf]]) {
      const findings = web(await doctor(fx, args));
      assert.equal(findings.length, 1, JSON.stringify(findings, null, 1));
      assert.match(
        findings[0]!.message,
        new RegExp(
          `^${reEscape(conf)}:25( \\(reached from ${reEscape(dir)}/nginx\\.conf:\\d+\\))? passes SCRIPT_FILENAME from \\$document_root`,
        ),
      );
      assert.match(
        findings[0]!.message,
        new RegExp(`the server block at ${reEscape(conf)}:16, location ~ \\\\\\.php\\$ at line 23`),
      );
    }
  } finally {
    await r.stop();
  }
});

test("a root that links into the deploy path (root /var/www/html -> DEPLOY_PATH/current/public) is judged like one naming it; a root linking elsewhere is not", async () => {
  const r = await deployed("linked root");
  const { fx, fpm } = r;
  const dir = path.join(fx.dir, "nginx");
  mkdirSync(dir, { recursive: true });
  const linked = path.join(fx.dir, 'www "html" ü');
  symlinkSync(path.join(fx.deployPath, "current/public"), linked);
  const elsewhere = path.join(fx.dir, "other-site");
  mkdirSync(path.join(fx.dir, "other-app"));
  symlinkSync(path.join(fx.dir, "other-app"), elsewhere);
  const conf = path.join(dir, "linked.conf");
  const site = (name: string, root: string, extra = "") => `server {
    listen LISTEN${extra};
    server_name ${name};
    root "${nginxEscape(root)}";
    index index.php;
    location ~ \\.php$ {
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_pass "unix:${fpm.socket}";
    }
}
`;
  try {
    const nginx = r.track(
      await startNginx(dir, (listen) => {
        writeFileSync(
          conf,
          (site("other.test", elsewhere) + site("app.test", linked, " default_server")).replaceAll(
            "LISTEN",
            listen,
          ),
        );
        return `geo $cutover_dollar { default "$"; }\ninclude linked.conf;`;
      }),
    );
    assert.equal(await (await fetch(`${nginx.url}/`)).text(), "v1", "nginx serves the app through the link");
    for (const args of [[], ["--web-config", conf]]) {
      const findings = web(await doctor(fx, args));
      assert.equal(findings.length, 1, JSON.stringify(findings, null, 1));
      assert.equal(findings[0]!.level, "error");
      assert.ok(
        findings[0]!.message.includes(
          `passes SCRIPT_FILENAME from $document_root under the symlinked ${linked} (a link into ${fx.deployPath}) (the server block at ${conf}:12,`,
        ),
        findings[0]!.message,
      );
    }
  } finally {
    await r.stop();
  }
});

test("Apache: a vhost reached through Include, IncludeOptional and a sites-enabled symlink is judged where it is written; with a reset it is clean", async () => {
  const r = await deployed("apache includes");
  const { fx, fpm, write } = r;
  const dir = path.join(fx.dir, "apache");
  mkdirSync(path.join(dir, "sites-available"), { recursive: true });
  mkdirSync(path.join(dir, "sites-enabled"));
  mkdirSync(path.join(dir, "conf.d"));
  writeFileSync(path.join(dir, "conf.d/security.conf"), "ServerTokens Prod\n");
  try {
    const apache = r.track(
      await startApache(dir, (listen) => {
        writeFileSync(path.join(dir, "sites-available/app.conf"), printed(fx, "apache", fpm, listen));
        symlinkSync("../sites-available/app.conf", path.join(dir, "sites-enabled/app.conf"));
        return `Include "${dir}/conf.d/*.conf"\nIncludeOptional "${dir}/sites-enabled/*.conf"\nIncludeOptional "${dir}/nothing/*.conf"\n`;
      }),
    );
    assert.equal(await (await fetch(`${apache.url}/`)).text(), "v1", "Apache serves the app");
    const vhost = readFileSync(path.join(dir, "sites-available/app.conf"), "utf8");
    const docRoot = lineOf(vhost, "DocumentRoot");
    for (const args of [[], ["--web-config", dir]]) {
      const findings = web(await doctor(fx, args));
      assert.equal(findings.length, 1, JSON.stringify(findings, null, 1));
      assert.match(
        findings[0]!.message,
        new RegExp(
          `^${reEscape(dir)}/sites-enabled/app\\.conf:${docRoot} \\(reached from ${reEscape(dir)}/vhost\\.conf:2, from ${reEscape(dir)}/apache2\\.conf:\\d+\\) serves .*current/public as Apache's DocumentRoot for the VirtualHost 127\\.0\\.0\\.1:\\d+ at ${reEscape(dir)}/sites-enabled/app\\.conf:${lineOf(vhost, "<VirtualHost")}, and nothing resets PHP`,
        ),
      );
    }
    write({}, "opcache");
    assert.deepEqual(web(await doctor(fx)), []);
  } finally {
    await r.stop();
  }
});

interface ProbeJson {
  probe: {
    requests: number;
    identified: number;
    unidentified: number;
    mixed: number | null;
    stale: number | null;
  };
}

test("deploy --probe: an app that names no release is 'not measured' (null), never 0; behind the printed nginx config its X-Cutover-Release header identifies every answer (0 stale, 0 mixed) and gates a health check", async () => {
  const r = await deployed("probe");
  const { fx, fpm } = r;
  try {
    const naive = r.track(
      await startNginx(path.join(fx.dir, "naive"), (listen) =>
        printed(fx, "nginx", fpm, listen).replaceAll("$realpath_root", "$document_root"),
      ),
    );
    const first = await fetch(`${naive.url}/`);
    assert.equal(await first.text(), "v1");
    assert.equal(first.headers.get("x-cutover-release"), null, "a naive config names no release");
    const blind = await cutover(
      ["--json", "deploy", "--probe", `${naive.url}/`, "--probe-concurrency", "4"],
      fx.app,
    );
    assert.equal(blind.code, 0, blind.stderr);
    const { probe } = json<ProbeJson>(blind);
    assert.ok(probe.requests > 4, JSON.stringify(probe));
    assert.deepEqual([probe.identified, probe.mixed, probe.stale], [0, null, null]);
    assert.equal(probe.unidentified, probe.requests);
    assert.match(blind.stderr, /mixed and stale not measured; 0 of \d+ answers named a release/);
    assert.doesNotMatch(blind.stderr, /\b0 stale/);
    await naive.stop();

    const nginx = r.track(
      await startNginx(path.join(fx.dir, "printed"), (listen) => printed(fx, "nginx", fpm, listen)),
    );
    const res = await fetch(`${nginx.url}/`);
    assert.equal(await res.text(), "v1", "the app names no release");
    const live = json<{ release: string }>(blind).release;
    assert.equal(res.headers.get("x-cutover-release"), live, "nginx names the live release");
    const seen = await cutover(
      ["--json", "deploy", "--probe", `${nginx.url}/`, "--probe-concurrency", "4"],
      fx.app,
    );
    assert.equal(seen.code, 0, seen.stderr);
    const identified = json<ProbeJson & { release: string }>(seen);
    assert.ok(identified.probe.requests > 4, JSON.stringify(identified.probe));
    assert.deepEqual(
      [identified.probe.unidentified, identified.probe.mixed, identified.probe.stale],
      [0, 0, 0],
    );
    assert.equal(identified.probe.identified, identified.probe.requests);
    const after = await fetch(`${nginx.url}/`);
    assert.equal(after.headers.get("x-cutover-release"), identified.release);
    // The same header gates a deploy by release, still without the app's help.
    r.write({ health_check: { url: `${nginx.url}/`, expect_header: { "X-Cutover-Release": "{release}" } } });
    const gated = await cutover(["--json", "deploy"], fx.app);
    assert.equal(gated.code, 0, gated.stderr);
    assert.equal(
      (await fetch(`${nginx.url}/`)).headers.get("x-cutover-release"),
      json<{ release: string }>(gated).release,
    );
  } finally {
    await r.stop();
  }
});

test("--webroot . with a shared .env, .git and cutover.yaml in the source: nginx and Apache answer 403/404 for them while the app and /.well-known/ work; doctor's HTTP check fails a config that serves them", async () => {
  // .git ships on purpose (exclude without it); cutover.yaml is left out by default.
  const r = await deployed("webroot dot", { exclude: [".cutover"] });
  const { fx, fpm, write } = r;
  fx.file(".git/HEAD", "ref: refs/heads/main\n");
  fx.file(".htaccess", "Deny from all\n");
  fx.file(".well-known/acme-challenge/x", "token\n");
  // Composer's vendor/ and PHP source under a name php-fpm does not run: public with --webroot .
  fx.file("vendor/composer/LICENSE", "Copyright (c) Nils Adermann, Jordi Boggiano\n");
  fx.file("vendor/autoload.php", "<?php return 'the autoloader';\n");
  fx.file("views/page.phtml", "<?php $password = 'a template';\n");
  const again = await cutover(["deploy"], fx.app);
  assert.equal(again.code, 0, again.stderr);
  const live = path.join(fx.deployPath, "current");
  assert.equal(
    readFileSync(path.join(live, ".env"), "utf8"),
    "APP_KEY=secret\n",
    "the shared .env is in the release",
  );
  assert.equal(readFileSync(path.join(live, ".git/HEAD"), "utf8"), "ref: refs/heads/main\n");
  assert.throws(
    () => readFileSync(path.join(live, "cutover.yaml")),
    /ENOENT/,
    "cutover.yaml is not uploaded",
  );
  try {
    const nginx = r.track(
      await startNginx(path.join(fx.dir, "nginx"), (listen) => {
        const text = printed(fx, "nginx", fpm, listen, ".");
        assert.match(text, /^# --webroot \.: the web root is the release root/m);
        return text;
      }),
    );
    const apache = r.track(
      await startApache(path.join(fx.dir, "apache"), (listen) => printed(fx, "apache", fpm, listen, ".")),
    );
    const open = r.track(
      await startNginx(path.join(fx.dir, "open"), (listen) =>
        printed(fx, "nginx", fpm, listen, ".").replace(
          /\n {4}# Never serve dotfiles[\s\S]*?\n\n {4}location \/ \{/,
          "\n    location / {",
        ),
      ),
    );
    for (const server of [nginx, apache]) {
      for (const p of ["/.env", "/cutover.yaml", "/.git/HEAD", "/.htaccess", "/.cutover-copy/x"]) {
        const status = (await fetch(`${server.url}${p}`)).status;
        assert.ok(status === 403 || status === 404, `${server.url}${p}: ${status}`);
      }
      assert.equal(await (await fetch(`${server.url}/`)).text(), "the app");
      assert.equal(await (await fetch(`${server.url}/.well-known/acme-challenge/x`)).text(), "token\n");
    }
    // The same block without its deny rules serves the secrets, and doctor says so, by URL.
    assert.equal(await (await fetch(`${open.url}/.env`)).text(), "APP_KEY=secret\n");
    write({ probe: { url: `${open.url}/` } });
    const findings = (await doctor(fx)).filter((f) => f.check === "http");
    assert.equal(
      await (await fetch(`${open.url}/views/page.phtml`)).text(),
      "<?php $password = 'a template';\n",
    );
    assert.deepEqual(findings.map((f) => f.message.split(" answered")[0]).sort(), [
      `GET ${open.url}/.env`,
      `GET ${open.url}/.git/HEAD`,
      `GET ${open.url}/.htaccess`,
      `GET ${open.url}/vendor/composer/LICENSE`,
      `GET ${open.url}/views/page.phtml`,
    ]);
    assert.ok(findings.every((f) => f.level === "error"));
    const fixOf = (p: string) => findings.find((f) => f.message.includes(`${p} answered`))!.fix;
    assert.match(fixOf("/vendor/composer/LICENSE"), /vendor\//);
    assert.match(fixOf("/views/page.phtml"), /\.phtml/);
    write({ probe: { url: `${nginx.url}/` }, health_check: { url: apache.url } });
    assert.deepEqual(
      (await doctor(fx)).filter((f) => f.check === "http"),
      [],
    );
  } finally {
    await r.stop();
  }
});

test("doctor: the running nginx passes this deploy path's PHP to a pool php.fpm does not name: a warning (cutover would reset and verify the other one)", async () => {
  const r = await deployed("other pool", {}, "opcache");
  const { fx, fpm } = r;
  try {
    const served = r.track(await startFpm(path.join(fx.dir, "fpm served"), { validateTimestamps: true }));
    r.track(await startNginx(path.join(fx.dir, "nginx"), (listen) => printed(fx, "nginx", served, listen)));
    const missed = web(await doctor(fx)).filter((f) => /not a pool in php\.fpm/.test(f.message));
    assert.equal(missed.length, 1, JSON.stringify(web(await doctor(fx)), null, 1));
    assert.equal(missed[0]!.level, "warning");
    assert.ok(missed[0]!.message.includes(`passes PHP to unix:${served.socket}`), missed[0]!.message);
    assert.ok(missed[0]!.message.includes(`(${fpm.socket})`), missed[0]!.message);
    // Apache's vhost from server-config, handing PHP to the same pool: the same warning, for Apache.
    r.track(
      await startApache(path.join(fx.dir, "apache"), (listen) => printed(fx, "apache", served, listen)),
    );
    const both = web(await doctor(fx)).filter((f) => /not a pool in php\.fpm/.test(f.message));
    assert.deepEqual(both.map((f) => f.check).sort(), ["apache", "nginx"], JSON.stringify(both, null, 1));
    assert.ok(both.find((f) => f.check === "apache")!.message.includes(`to php-fpm at ${served.socket},`));
    r.write({ php: { fpm: [{ socket: served.socket, reset: "opcache" }] } });
    assert.deepEqual(web(await doctor(fx)), []);
  } finally {
    await r.stop();
  }
});

test("Apache: a DocumentRoot written with a Define'd ${VAR}, as the running Apache expands it, is judged (no reset: an error)", async () => {
  const r = await deployed("apache define");
  const { fx, fpm } = r;
  try {
    const apache = r.track(
      await startApache(path.join(fx.dir, "apache"), (listen) => {
        // Apache puts a Define's value into the line before splitting it: the quoted deploy path stays written out.
        const vhost = printed(fx, "apache", fpm, listen).replaceAll('/current/public"', '/${CUTOVER_WEB}"');
        return `Define CUTOVER_WEB current/public\n${vhost}`;
      }),
    );
    assert.equal(
      await (await fetch(`${apache.url}/`)).text(),
      "v1",
      "Apache expands the Define and serves the app",
    );
    const findings = web(await doctor(fx));
    assert.equal(findings.length, 1, JSON.stringify(findings, null, 1));
    assert.match(
      findings[0]!.message,
      /serves .*current\/public as Apache's DocumentRoot .*nothing resets PHP/,
    );
  } finally {
    await r.stop();
  }
});
