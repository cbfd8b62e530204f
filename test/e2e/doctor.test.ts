import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fakeBin } from "../helpers/bin.js";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { sshHost, sshRig } from "../helpers/sshd.js";
import { snapshot } from "../helpers/tree.js";
import { startFpm } from "../helpers/web.js";

interface Finding {
  host: string;
  level: string;
  check: string;
  message: string;
  fix: string;
}

/** Root's crontab for the length of `body`, restored afterwards (crontab -l fails when there is none). */
async function withCrontab<T>(line: string, body: () => Promise<T>): Promise<T> {
  const saved = spawnSync("crontab", ["-l"]);
  execFileSync("crontab", ["-"], { input: `${saved.status === 0 ? saved.stdout : ""}${line}\n` });
  try {
    return await body();
  } finally {
    if (saved.status === 0) execFileSync("crontab", ["-"], { input: saved.stdout });
    else execFileSync("crontab", ["-r"]);
  }
}

test("doctor names every setting that serves stale code or loses data, on every host, with the fix; read-only; exit 1; --json", async () => {
  const fx = fixture("doctor");
  chmodSync(fx.dir, 0o755); // the php-fpm workers (www-data) preload a file from the release
  chmodSync(fx.app, 0o755);
  fx.file("preload.php", "<?php function cutover_preloaded() { return 1; }\n");
  // web1: local, on a small disk. web2: over SSH, current is a real directory, no rsync, clock 10 s ahead.
  const rig = sshRig();
  const web2 = path.join(fx.dir, "web 2");
  mkdirSync(path.join(web2, "current"), { recursive: true });
  writeFileSync(path.join(web2, "current/index.php"), "<?php echo 'copied by hand';\n");
  const bin = fakeBin(path.join(rig.dir, "bin"), ["rsync"], {
    date: 'if [ "$1" = "+%s%3N" ]; then echo $(( $(/bin/date +%s%3N) + 10000 )); else exec /bin/date "$@"; fi',
  });
  // Mounted last before the try, whose finally unmounts it: nothing between may throw.
  const small = path.join(fx.dir, "small disk");
  mkdirSync(small);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=64m,mode=755", "tmpfs", small]);
  const web1 = path.join(small, "app ü");
  let fpm: Awaited<ReturnType<typeof startFpm>> | undefined;
  let worker: ReturnType<typeof spawn> | undefined;
  try {
    const sshd = await rig.start({ extraConfig: [`SetEnv PATH=${bin}`] });
    const socket = path.join(fx.dir, "fpm", "fpm.sock");
    fx.writeConfig({ php: { fpm: [{ socket, reset: "none" }] } }, [
      { name: "web1", path: web1 },
      sshHost(rig, sshd, web2, { name: "web2" }),
    ]);
    const deployed = await cutover(["--json", "deploy", "--hosts", "web1"], fx.app);
    assert.equal(deployed.code, 0, deployed.stderr);
    const id = json<{ release: string }>(deployed).release;
    const release = path.join(web1, "releases", id);

    // A pool that never rechecks files, preloads the release, and keeps sessions inside it.
    fpm = await startFpm(path.join(fx.dir, "fpm"), {
      validateTimestamps: false,
      ini: {
        "opcache.preload": path.join(web1, "current/preload.php"),
        "opcache.preload_user": "www-data",
        "session.save_path": path.join(web1, "current/storage/sessions"),
      },
    });
    // The application writes uploads into the live release; a queue worker runs from the release path.
    mkdirSync(path.join(web1, "current/public/uploads"), { recursive: true });
    writeFileSync(path.join(web1, "current/public/uploads/cat.jpg"), "not really a cat");
    worker = spawn("sh", ["-c", "sleep 120", `${release}/artisan`, "queue:work"], { stdio: "ignore" });

    const findings = await withCrontab(`* * * * * php '${release}/artisan' schedule:run`, async () => {
      const before = [snapshot(web1), snapshot(web2)];
      const human = await cutover(["doctor", "--web-config", path.join(fx.dir, "no web config")], fx.app);
      assert.equal(human.code, 1, human.stdout + human.stderr);
      assert.match(human.stdout.split("\n")[0]!, /^(error|warning): web[12]: /);
      assert.equal(
        human.stdout.split("\n").filter((l) => l.startsWith("  fix: ")).length,
        human.stdout.split("\n").filter((l) => /^(error|warning): /.test(l)).length,
        "every finding has a fix",
      );
      const r = await cutover(["--json", "doctor", "--web-config", path.join(fx.dir, "none")], fx.app);
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual([snapshot(web1), snapshot(web2)], before, "doctor changes nothing");
      return json<Finding[]>(r);
    });
    const found = (host: string, check: string) => {
      const f = findings.find((x) => x.host === host && x.check === check);
      assert.ok(f, `${host} ${check} in ${JSON.stringify(findings, null, 1)}`);
      return f;
    };
    // --web-config named a path no host has: said on each, over SSH too, not passed as a clean config.
    for (const host of ["web1", "web2"])
      assert.match(
        found(host, "web-config").message,
        /^--web-config .*none: no such file or directory on this host/,
      );
    assert.match(found("web1", "disk").message, /only \d+ MiB free in .*small disk/);
    assert.match(
      found("web1", "writes").message,
      /wrote 1 file\(s\) inside the live release .*public\/uploads\/cat\.jpg/,
    );
    assert.match(found("web1", "writes").fix, /shared_dirs/);
    assert.match(found("web1", "cron").message, /schedule:run/);
    assert.match(found("web1", "workers").message, /queue:work/);
    assert.match(found("web1", "opcache").message, /validate_timestamps=0 and no reset/);
    assert.match(found("web1", "realpath").message, /realpath_cache_ttl=120/);
    assert.match(found("web1", "preload").message, /preload\.php/);
    assert.match(found("web1", "sessions").message, /storage\/sessions is inside a release/);
    assert.match(found("web2", "current").message, /web 2\/current is a real directory/);
    assert.match(found("web2", "rsync").message, /rsync is not installed/);
    assert.match(found("all", "clock").message, /host clocks differ by \d+ ms/);
    assert.ok(Number(found("all", "clock").message.match(/differ by (\d+)/)![1]) >= 9000);
    const levels = new Map(findings.map((f) => [`${f.host} ${f.check}`, f.level]));
    for (const key of [
      "web1 writes",
      "web1 cron",
      "web1 preload",
      "web1 sessions",
      "web2 current",
      "web2 rsync",
    ])
      assert.equal(levels.get(key), "error", key);
    assert.deepEqual(readdirSync(web2), ["current"], "nothing was added to a host never deployed to");
    assert.deepEqual(
      readdirSync("/tmp").filter((f) => f.startsWith("cutover-doctor-")),
      [],
      "the PHP helpers doctor used are gone",
    );
    assert.equal(
      readFileSync(path.join(web2, "current/index.php"), "utf8"),
      "<?php echo 'copied by hand';\n",
    );
  } finally {
    worker?.kill("SIGKILL");
    await fpm?.stop();
    await rig.stopAll();
    execFileSync("umount", ["-l", small]);
    fx.cleanup();
  }
});

test("doctor: reset: opcache in a pool with OPcache off clears no realpath cache: a warning that says so, fix reset: reload", async () => {
  const fx = fixture("doctor opcache off");
  chmodSync(fx.dir, 0o755); // the php-fpm workers (www-data) read cutover's helper there
  const fpm = await startFpm(path.join(fx.dir, "fpm"), {
    validateTimestamps: true,
    children: 2,
    ini: { "opcache.enable": "0" },
  });
  try {
    fx.writeConfig({ php: { fpm: [{ socket: fpm.socket, reset: "opcache" }] } });
    const deployed = await cutover(["deploy"], fx.app);
    assert.equal(deployed.code, 0, deployed.stderr);
    const noWebConfigs = path.join(fx.dir, "no web configs");
    mkdirSync(noWebConfigs);
    const r = await cutover(["--json", "doctor", "--web-config", noWebConfigs], fx.app);
    const realpath = json<Finding[]>(r).find((f) => f.check === "realpath");
    assert.ok(realpath, r.stdout);
    assert.match(
      realpath.message,
      /realpath_cache_ttl=120 and reset: opcache with OPcache off \(opcache\.enable=0\)/,
    );
    assert.match(realpath.fix, /reset: reload/);
  } finally {
    await fpm.stop();
    fx.cleanup();
  }
});
