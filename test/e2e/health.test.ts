import assert from "node:assert/strict";
import { existsSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { writeProbeApp } from "../helpers/php-app.js";
import { type SshRig, sshHost, sshRig } from "../helpers/sshd.js";
import { type Fpm, type Nginx, startFpm, startNginx } from "../helpers/web.js";

interface Result {
  ok: boolean;
  release: string;
  hosts: { host: string; state: string; serving: string | null }[];
  error?: { message: string };
}

let rig: SshRig;
let fpm: Fpm;
let nginx: Nginx;
const fx = fixture("health");
const paths = [1, 2, 3].map((i) => path.join(fx.dir, `web ${i}`));
const addresses = [2, 3, 4].map((i) => `127.0.0.${i}`);
const live = (p: string) => path.basename(realpathSync(path.join(p, "current")));
const lives = () => paths.map(live);
let hosts: Record<string, unknown>[] = [];
const build = writeProbeApp(fx);

/**
 * Three hosts on their own loopback addresses, each with an sshd and an nginx server block for its
 * own deploy path (same port on every address), all sharing one php-fpm pool.
 */
before(async () => {
  rig = sshRig();
  const servers = [];
  for (const address of addresses) servers.push(await rig.start({ address }));
  hosts = servers.map((s, i) => sshHost(rig, s, paths[i]!, { name: `web${i + 1}` }));
  fx.file(
    "public/health.php",
    `<?php
$release = include __DIR__ . '/../lib/a.php';
header("X-Release: $release");
if (file_exists(__DIR__ . '/../../../BROKEN') || file_exists(__DIR__ . '/../SMOKE_FAIL')) { http_response_code(500); echo "broken\\n"; return; }
// ?name= must be this host's name ("web 2" deploys to web2): proves {name} is replaced per host.
if (isset($_GET['name']) && $_GET['name'] !== str_replace(' ', '', basename(dirname(__DIR__, 3)))) { http_response_code(500); echo "wrong name\\n"; return; }
echo "healthy $release\\n";
`,
  );
  fpm = await startFpm(path.join(fx.dir, "fpm"), { validateTimestamps: true });
  nginx = await startNginx(
    path.join(fx.dir, "nginx"),
    (listen) =>
      paths
        .map(
          (p, i) => `server {
  listen ${addresses[i]}:${listen.split(":")[1]};
  root "${p}/current/public";
  location ~ \\.php$ {
    set $cutover_root $realpath_root;
    include fastcgi_params;
    fastcgi_param SCRIPT_FILENAME $cutover_root$fastcgi_script_name;
    fastcgi_param DOCUMENT_ROOT $cutover_root;
    fastcgi_pass "unix:${fpm.socket}";
  }
}`,
        )
        .join("\n"),
    addresses[0],
  );
  writeConfig();
  const r = await cutover(["deploy", "-q"], fx.app);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await nginx?.stop();
  await fpm?.stop();
  await rig.stopAll();
  fx.cleanup();
});

function writeConfig(extra: Record<string, unknown> = {}) {
  fx.writeConfig(
    {
      shared_dirs: [],
      shared_files: [],
      writable_dirs: [],
      keep_releases: 10,
      php: { fpm: [{ socket: fpm.socket, reset: "none" }] },
      hooks: { build },
      ...extra,
    },
    hosts,
  );
}

test("a failing smoke command: current untouched on every host, release failed, exit 1", async () => {
  writeConfig({ smoke: { commands: ["php -l public/index.php", "test -f public/does-not-exist.php"] } });
  const before = lives();
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /smoke test failed/);
  assert.deepEqual(lives(), before);
  const rows = json<{ id: string; meta: { state: string } }[]>(await cutover(["--json", "releases"], fx.app));
  assert.equal(rows.find((x) => x.id === json<Result>(r).release)!.meta.state, "failed");
});

test("a failing preview HTTP check through php-fpm: current untouched, release failed", async () => {
  writeConfig({
    hooks: { build: [...build, "touch SMOKE_FAIL"] },
    smoke: { http: [{ path: "public/health.php", expect_body: "healthy" }] },
  });
  const before = lives();
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /smoke public\/health\.php failed .*HTTP 500/s);
  assert.deepEqual(lives(), before);
  writeConfig({ smoke: { http: [{ path: "public/health.php", expect_body: "healthy" }] } });
  const ok = await cutover(["deploy", "-q"], fx.app);
  assert.equal(ok.code, 0, ok.stderr);
});

test("health check url: {host} and {name} are each host's own address and name", async () => {
  writeConfig({
    health_check: { url: `http://{host}:${nginx.port}/health.php?name={name}`, timeout: 2, retries: 1 },
  });
  const ok = await cutover(["--json", "deploy"], fx.app);
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(
    lives(),
    [0, 1, 2].map(() => json<Result>(ok).release),
  );
  // The same check with a name no host has fails: the check really reads what {name} became.
  writeConfig({
    health_check: { url: `http://{host}:${nginx.port}/health.php?name=web9`, timeout: 2, retries: 1 },
  });
  const before = lives();
  const bad = await cutover(["deploy"], fx.app);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /health check failed .*status 500/);
  assert.deepEqual(lives(), before);
});

test("health check fails on one of three hosts: all go back, release bad, history says why, rollback skips it", async () => {
  writeConfig({
    health_check: {
      url: `http://{host}:${nginx.port}/health.php`,
      expect_header: { "X-Release": "{release}" },
      timeout: 2,
      retries: 2,
      interval: 0.2,
    },
  });
  const before = lives();
  writeFileSync(path.join(paths[1]!, "BROKEN"), "");
  try {
    const r = await cutover(["--json", "deploy"], fx.app);
    assert.equal(r.code, 1, r.stderr);
    const result = json<Result>(r);
    assert.match(result.error!.message, /web2: health check failed after 2 attempts: .*status 500/);
    assert.deepEqual(lives(), before, "every host serves the previous release again");
    assert.ok(result.hosts.every((h, i) => h.serving === before[i] && h.state === "switched-back"));
    const rows = json<{ id: string; meta: { state: string; reason?: string } }[]>(
      await cutover(["--json", "releases"], fx.app),
    );
    const bad = rows.find((x) => x.id === result.release)!;
    assert.equal(bad.meta.state, "bad");
    assert.match(bad.meta.reason ?? "", /health check failed/);
    const history = readFileSync(path.join(paths[0]!, ".cutover/history.jsonl"), "utf8")
      .trim()
      .split("\n")
      .at(-1)!;
    assert.match(history, /"outcome":"rolled-back".*health check failed/);
    const to = await cutover(["rollback", "--to", result.release], fx.app);
    assert.equal(to.code, 1);
    assert.match(to.stderr, /is marked bad/);
    // web2 still fails every health check: a rollback is kept and warns (exit 4) instead of undoing itself.
    const plain = await cutover(["--json", "rollback"], fx.app);
    assert.equal(plain.code, 4, plain.stderr);
    assert.match(plain.stderr, /warning: web2: health check failed/);
    assert.notEqual(json<Result>(plain).release, result.release);
    assert.ok(json<Result>(plain).hosts.every((h) => h.serving === json<Result>(plain).release));
  } finally {
    rmSync(path.join(paths[1]!, "BROKEN"), { force: true });
  }
});

test("a health check that never gets an answer rolls back after timeout × retries, not later", async () => {
  const silent = net.createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  const port = (silent.address() as net.AddressInfo).port;
  try {
    writeConfig({
      health_check: { url: `http://127.0.0.1:${port}/health.php`, timeout: 1, retries: 2, interval: 0.5 },
    });
    const before = lives();
    const r = await cutover(["--json", "-v", "deploy"], fx.app);
    assert.equal(r.code, 1, r.stderr);
    const took = /health check (\d+) ms/.exec(r.stderr);
    assert.ok(took, r.stderr);
    assert.ok(
      Number(took[1]) >= 2400 && Number(took[1]) < 4000,
      `health check took ${took[1]} ms for 2 × 1 s + 0.5 s`,
    );
    assert.deepEqual(lives(), before);
  } finally {
    silent.close();
    writeConfig();
  }
});

test("setup check: no stray lock is left on any host", () => {
  for (const p of paths) assert.ok(!existsSync(path.join(p, ".cutover/lock")));
});
