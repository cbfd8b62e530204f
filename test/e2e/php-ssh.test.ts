import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, realpathSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { BIN, cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { writeProbeApp } from "../helpers/php-app.js";
import { type SshRig, sshHost, sshRig } from "../helpers/sshd.js";
import { snapshot } from "../helpers/tree.js";
import { type Fpm, type Nginx, startFpm, startNginx } from "../helpers/web.js";

// The PHP runtime steps over SSH: the FastCGI client runs on the host (php-cli there), against the
// host's pool, for two hosts at once. Both hosts are this machine, each with its own deploy path.
let rig: SshRig;
let fpm: Fpm;
let nginx: Nginx;
const fx = fixture("php over ssh");
const paths = [1, 2].map((i) => path.join(fx.dir, `web ${i}`));
let hosts: Record<string, unknown>[] = [];
const build = writeProbeApp(fx);

before(async () => {
  rig = sshRig();
  const servers = [await rig.start(), await rig.start()];
  hosts = servers.map((s, i) => sshHost(rig, s, paths[i]!, { name: `web${i + 1}` }));
  fpm = await startFpm(path.join(fx.dir, "fpm"), { validateTimestamps: true });
  configure("opcache");
  const r = await cutover(["deploy", "-q"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  // web1 (its paths differ from web2's: server-config prints for one host) is served through the
  // naive $document_root config: only the reset makes it serve new code.
  const printed = execFileSync(
    process.execPath,
    [BIN, "server-config", "nginx", "--listen", "LISTEN", "--fpm", fpm.socket, "--hosts", "web1"],
    { cwd: fx.app },
  ).toString();
  nginx = await startNginx(path.join(fx.dir, "nginx"), (listen) =>
    printed.replace("listen LISTEN;", `listen ${listen};`).replaceAll("$realpath_root", "$document_root"),
  );
});
after(async () => {
  await nginx?.stop();
  await fpm?.stop();
  await rig.stopAll();
  fx.cleanup();
});

function configure(reset: string, extra: Record<string, unknown> = {}) {
  fx.writeConfig(
    {
      shared_dirs: [],
      shared_files: [],
      writable_dirs: [],
      hooks: { build },
      php: {
        fpm: [{ socket: fpm.socket, reset }],
        warmup: ["lib", "public"],
        reload_command: `kill -USR2 "$(cat '${path.dirname(fpm.socket)}/fpm.pid')"`,
        ...extra,
      },
    },
    hosts,
  );
}

async function served(): Promise<string[]> {
  const res = await fetch(`${nginx.url}/`);
  assert.equal(res.status, 200);
  return [
    ...new Set([res.headers.get("x-release") ?? "", ...((await res.text()).match(/\d{8}T\d{6}Z/g) ?? [])]),
  ];
}

test("over SSH: warm-up, OPcache reset and per-worker verification run on each host; the naive config serves each release at once", async () => {
  for (let i = 0; i < 8; i++) await served(); // every worker caches the old release
  for (let n = 0; n < 2; n++) {
    const r = await cutover(["--json", "-v", "deploy"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    for (const host of ["web1", "web2"]) {
      assert.match(r.stderr, new RegExp(`✓ ${host} warm up OPcache`));
      assert.match(r.stderr, new RegExp(`✓ ${host} reset PHP caches`));
    }
    const release = json<{ release: string }>(r).release;
    for (let i = 0; i < 12; i++) assert.deepEqual(await served(), [release]);
  }
  for (const p of paths)
    assert.deepEqual(readdirSync(path.join(p, ".cutover/tmp")), [], "PHP helpers removed");
});

test("over SSH: a pool that cannot be reset after the switch fails the deploy, and every host switches back", async () => {
  const before = paths.map((p) => realpathSync(path.join(p, "current")));
  fx.writeConfig(
    {
      shared_dirs: [],
      shared_files: [],
      writable_dirs: [],
      hooks: { build },
      php: { fpm: [{ socket: path.join(fx.dir, "no such.sock"), reset: "opcache" }] },
    },
    hosts,
  );
  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /error: web[12]: .*reset OPcache of .*no such\.sock/);
  assert.deepEqual(
    paths.map((p) => realpathSync(path.join(p, "current"))),
    before,
    "every host switched back",
  );
  configure("opcache");
});

test("over SSH: reset: reload on a pool with process_control_timeout 0 is refused on the hosts before anything changes", async () => {
  configure("reload");
  const before = paths.map((p) => snapshot(p));
  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr.split("\n")[0]!,
    /^error: web[12]: php\.fpm .* has reset: reload, but php-fpm's process_control_timeout is 0/,
  );
  assert.deepEqual(
    paths.map((p) => snapshot(p)),
    before,
  );
  configure("opcache");
});
