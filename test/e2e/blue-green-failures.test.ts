import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { Probe, type Sample } from "../../src/probe/probe.js";
import { failures, live, type Rig, rig, underLoad } from "../helpers/balanced-rig.js";
import { backendSettings } from "../helpers/balancer.js";
import { BIN, cutover, json } from "../helpers/cli.js";
import { interruptWhen, killEach, processesWith } from "../helpers/interrupt.js";
import { writeProbeApp } from "../helpers/php-app.js";

/** The rig's first backend (in service) as pool blue, its second (out) as green; written to cutover.yaml. */
function asPools(r: Rig, extra: Record<string, unknown> = {}) {
  const [blue, green] = r.backends as [Rig["backends"][0], Rig["backends"][0]];
  const blueGreen = {
    strategy: "blue-green",
    pools: { blue: [blue.name], green: [green.name] },
    rolling: undefined,
    ...extra,
  };
  r.settings(r.balancer, blueGreen);
  return { blue, green, blueGreen };
}

test("nginx blue/green: a reload that fails puts the upstream file back, so the next deploy still goes to the pool nginx does not serve", async () => {
  // 127.0.0.2 is blue (in service), 127.0.0.3 green (marked down).
  const r = await rig("nginx", { secondOut: true });
  try {
    const { green, blueGreen } = asPools(r);
    const first = await cutover(["deploy"], r.fx.app);
    assert.equal(first.code, 0, first.stderr);
    const served = live(green);
    const states = r.serverStates();
    assert.deepEqual(states, ["down", "ready"], "green serves");

    // The reload fails (say nginx's pid file is gone): nginx keeps serving green.
    r.settings(
      {
        ...r.balancer,
        reload_command: `echo 'nginx: [error] invalid PID number "" in "/run/nginx.pid"' >&2; exit 1`,
      },
      blueGreen,
    );
    const failed = await cutover(["deploy"], r.fx.app);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /invalid PID number/);
    assert.deepEqual(r.serverStates(), states, "the upstream file still says what nginx serves: green");

    // The next run deploys to blue, the pool out of service, and never touches green.
    r.settings(r.balancer, blueGreen);
    const next = await cutover(["deploy"], r.fx.app);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, /deploy to the idle pool blue/);
    assert.equal(live(green), served, "the pool nginx served was not deployed to");
    assert.deepEqual(r.serverStates(), ["ready", "down"], "blue serves now");
  } finally {
    await r.stop();
  }
});

test("nginx blue/green: a switch killed between the upstream file's rename and nginx's reload is finished by the next run, which never deploys onto the pool nginx serves", async () => {
  const r = await rig("nginx", { secondOut: true });
  try {
    const { green, blueGreen } = asPools(r, { command_timeout: 5 });
    const first = await cutover(["deploy"], r.fx.app);
    assert.equal(first.code, 0, first.stderr);
    const served = live(green);
    assert.deepEqual(r.serverStates(), ["down", "ready"], "green serves");

    // The reload hangs past command_timeout: the swap is killed after the rename, before any reload.
    r.settings({ ...r.balancer, reload_command: `sleep 30; ${r.balancer.reload_command}` }, blueGreen);
    const killed = await cutover(["deploy"], r.fx.app);
    assert.equal(killed.code, 1, killed.stderr);
    assert.match(killed.stderr, /timed out|killed|exit 124/);
    const answer = await fetch(`${r.url}/`);
    assert.equal(answer.headers.get("x-release"), served, "nginx still serves green, whatever the file says");

    const doctor = await cutover(["--json", "doctor"], r.fx.app);
    assert.equal(doctor.code, 1, `doctor names the unfinished switch: ${doctor.stdout}`);
    assert.match(doctor.stdout, /interrupted/);

    // The next deploy's release fails its health check: it must never be served through the balancer.
    r.settings(r.balancer, blueGreen);
    r.fx.file("public/health.php", "<?php http_response_code(500); echo 'broken';\n");
    let bad = "";
    const during = await underLoad(
      r.url,
      async () => {
        const d = await cutover(["--json", "deploy"], r.fx.app);
        assert.equal(d.code, 1, d.stderr);
        bad = json<{ release: string }>(d).release;
        assert.match(d.stderr, /health check failed/);
      },
      true,
    );
    assert.ok(bad !== "" && during.length > 50, `${during.length} requests`);
    assert.deepEqual(during.filter((s) => s.releases.includes(bad)).slice(0, 3), [], "never served");
    // The reload that finished the switch left green requests in flight: the deploy waited for them.
    assert.deepEqual(failures(during).slice(0, 3), [], "failed requests");
  } finally {
    await r.stop();
  }
});

test("haproxy blue/green: a deploy right after a switch waits for the idle pool's requests in flight before it reloads its php-fpm: 0 failed", async () => {
  const r = await rig("haproxy", { secondOut: true });
  try {
    // Requests that take 3 s: the pool switched away from still runs them when the next deploy starts.
    r.fx.file("public/long.php", "<?php usleep(3000000); echo 'long';\n");
    asPools(r);
    const first = await cutover(["deploy"], r.fx.app);
    assert.equal(first.code, 0, first.stderr);
    const long = new Probe({ url: `${r.url}/long.php`, concurrency: 10, maxDurationMs: 120_000 });
    long.start();
    let samples: Sample[] = [];
    try {
      await new Promise((res) => setTimeout(res, 3500));
      // green serves: switch to blue, then at once deploy to green again (its php-fpm is reloaded).
      for (const expected of ["blue", "green"]) {
        const d = await cutover(["deploy"], r.fx.app);
        assert.equal(d.code, 0, d.stderr);
        assert.match(d.stderr, new RegExp(`deploy to the idle pool ${expected}`));
      }
    } finally {
      samples = await long.stop();
    }
    assert.ok(samples.length >= 10, `${samples.length} requests`);
    assert.deepEqual(failures(samples).slice(0, 3), [], "failed requests");
  } finally {
    await r.stop();
  }
});

test("haproxy blue/green: switch-back refuses an idle pool whose deploy was killed after its switch, before its checks (a release never checked), naming it; nothing changes", async () => {
  const r = await rig("haproxy", { secondOut: true });
  const marker = `cutover-killpoint-${process.pid}`;
  try {
    const { green, blueGreen } = asPools(r);
    for (const pool of ["green", "blue"]) {
      const d = await cutover(["deploy"], r.fx.app);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stderr, new RegExp(`deploy to the idle pool ${pool}`));
    }
    const warm = live(green);
    // The next deploy to green is killed once green's current is switched, in its PHP reset: before
    // the health check, and before the release is recorded live.
    const php = backendSettings(r.fx).php;
    r.settings(r.balancer, {
      ...blueGreen,
      php: { ...php, reload_command: `sh -c 'sleep 30' ${marker}; ${php.reload_command}` },
    });
    const killed = await interruptWhen(["deploy"], r.fx.app, marker, "SIGKILL");
    assert.ok(killed.sent, killed.stderr);
    killEach(processesWith(marker));
    const unchecked = live(green);
    assert.notEqual(unchecked, warm, "green's current was switched by the killed deploy");
    const states = r.serverStates();

    r.settings(r.balancer, blueGreen);
    for (const args of [["--dry-run", "switch-back"], ["switch-back"]]) {
      const back = await cutover(args, r.fx.app);
      assert.equal(back.code, 1, `${args.join(" ")}: ${back.stdout}${back.stderr}`);
      // (The real run first says it cleared the killed run's stale lock.)
      assert.match(
        back.stderr,
        new RegExp(`^error: switch-back: the green pool serves ${unchecked}, .*not live`, "m"),
      );
      assert.deepEqual(r.serverStates(), states, "the balancer was not touched");
      assert.equal(live(green), unchecked);
    }
  } finally {
    killEach(processesWith(marker));
    await r.stop();
  }
});

test("haproxy blue/green: a deploy that waited (--lock-wait) for another one never deploys onto the pool that one put in service", async () => {
  const r = await rig("haproxy", { secondOut: true });
  try {
    const { blue, blueGreen } = asPools(r);
    const first = await cutover(["deploy"], r.fx.app);
    assert.equal(first.code, 0, first.stderr);
    // A slow build holds the idle pool's lock: the second run reads the same idle pool, then waits.
    r.settings(r.balancer, { ...blueGreen, hooks: { build: [...writeProbeApp(r.fx), "sleep 3"] } });
    const a = cutover(["--json", "deploy"], r.fx.app);
    await new Promise((res) => setTimeout(res, 1500));
    const b = await cutover(["--json", "deploy", "--lock-wait", "60"], r.fx.app);
    const done = await a;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /deploy to the idle pool blue/);
    const served = json<{ release: string }>(done).release;
    assert.deepEqual(r.serverStates(), ["no check", "DRAIN"], "blue serves");
    assert.equal(
      live(blue),
      served,
      `blue, in service, still runs the release it was checked with: ${b.stderr}`,
    );
    assert.notEqual(b.code, 0, "the run that waited did not deploy");
    assert.match(b.stderr, /^error: .*blue serves now/m);
  } finally {
    await r.stop();
  }
});

test("haproxy blue/green: a signal during switch-back's health check stops it before the balancer switches: exit 130, no lock left, nothing changed", async () => {
  const r = await rig("haproxy", { secondOut: true });
  try {
    // A health check that takes 2 s: time for a signal while switch-back checks the idle pool.
    r.fx.file("public/health.php", "<?php usleep(2000000); echo 'ok';\n");
    const { blue, green } = asPools(r);
    for (const pool of ["green", "blue"]) {
      const d = await cutover(["deploy"], r.fx.app);
      assert.equal(d.code, 0, d.stderr);
      assert.match(d.stderr, new RegExp(`deploy to the idle pool ${pool}`));
    }
    const states = r.serverStates();
    const child = spawn(process.execPath, [BIN, "switch-back"], {
      cwd: r.fx.app,
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      if (/health check of green/.test(stderr) && !child.killed) child.kill("SIGTERM");
    });
    const code = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted by a signal before the balancer switched/);
    assert.deepEqual(r.serverStates(), states, "the balancer was not touched");
    for (const b of [blue, green])
      assert.equal(existsSync(path.join(b.deployPath, ".cutover/lock")), false, `${b.name}: no lock left`);
  } finally {
    await r.stop();
  }
});

test("haproxy blue/green: a switch HAProxy refuses in part (a server of the new pool deleted at runtime) is undone: the old pool serves again, exit 1, one line saying so", async () => {
  const r = await rig("haproxy", { secondOut: true });
  try {
    const { green } = asPools(r);
    const first = await cutover(["deploy"], r.fx.app);
    assert.equal(first.code, 0, first.stderr);
    const served = live(green);
    // green (web2) serves; the next deploy goes to blue (web1), with a health check slow enough to act meanwhile.
    r.fx.file("public/health.php", "<?php usleep(1500000); echo 'ok';\n");
    const child = spawn(process.execPath, [BIN, "deploy"], {
      cwd: r.fx.app,
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stderr = "";
    let deleted = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      // An operator removes the idle pool's server while the deploy checks it (HAProxy 2.6: maint, then del).
      if (/health/.test(stderr) && deleted === "")
        deleted = r.ask!("set server app/web1 state maint; del server app/web1");
    });
    const code = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
    assert.match(deleted, /Server deleted/, deleted);
    assert.equal(code, 1, stderr);
    // HAProxy refused web1's ready and ran the rest (web2 drained): nothing served. That is undone.
    assert.deepEqual(r.serverStates(), ["no check"], "green serves again, as before the switch");
    assert.equal(live(green), served, "green still runs its release");
    assert.match(stderr, /^error: .*switch.*No such server/m);
    assert.match(stderr, /green serves again/);
    assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
  } finally {
    await r.stop();
  }
});
