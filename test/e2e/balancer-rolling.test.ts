import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { failures, live, type Rig, retried, rig, underLoad } from "../helpers/balanced-rig.js";
import { backendSettings } from "../helpers/balancer.js";
import { BIN, cutover, json } from "../helpers/cli.js";
import { interruptWhen, killEach, processesWith } from "../helpers/interrupt.js";
import { writeProbeApp } from "../helpers/php-app.js";
import { sshHost, sshRig } from "../helpers/sshd.js";
import { snapshot } from "../helpers/tree.js";

for (const kind of ["haproxy", "nginx"] as const) {
  test(`${kind}: drained rolling deploys with a php-fpm reload per host (process_control_timeout 0): 0 failed; without drain: failures`, async () => {
    const r = await rig(kind);
    try {
      r.settings(r.balancer);
      const first = await cutover(["--json", "deploy"], r.fx.app);
      assert.equal(first.code, 0, first.stderr);

      const releases: string[] = [];
      // The servers' states, read without cutover every 20 ms during the deploys.
      const seen: string[][] = [];
      const watcher = setInterval(() => seen.push(r.serverStates()), 20);
      const drained = await underLoad(
        r.url,
        async () => {
          for (let i = 0; i < 2; i++) {
            const d = await cutover(["--json", "deploy"], r.fx.app);
            assert.equal(d.code, 0, d.stderr);
            releases.push(json<{ release: string }>(d).release);
            assert.match(d.stderr, /out of service/, "each batch was taken out of the balancer");
          }
        },
        kind === "nginx",
      ).finally(() => clearInterval(watcher));
      const inService = kind === "haproxy" ? "no check" : "ready";
      for (const i of [0, 1])
        assert.ok(
          seen.some((states) => states[i] !== inService),
          `server ${i + 1} was taken out`,
        );
      assert.ok(
        seen.every((states) => states.some((state) => state === inService)),
        "never both out at once (max_unavailable 50%)",
      );
      assert.ok(drained.length > 300, `only ${drained.length} requests`);
      // HAProxy changes server states without closing a client connection: nothing is sent twice.
      // nginx reloads to drain: its old workers close idle keep-alive connections (see underLoad).
      assert.deepEqual(failures(drained).slice(0, 3), [], "failed requests with drain");
      const again = retried(drained);
      assert.ok(again < drained.length / 50, `${again} requests sent again`);
      process.stderr.write(
        `# ${kind}: ${again} of ${drained.length} requests sent again on a new connection\n`,
      );
      assert.deepEqual(
        drained.filter((s) => s.releases.length > 1).slice(0, 3),
        [],
        "responses mixing releases",
      );
      assert.deepEqual(r.backends.map(live), [releases[1], releases[1]]);
      assert.deepEqual(r.serverStates(), [inService, inService], "all back in service");
      // The reloads really happened (php-fpm logs each), so the drain is what kept requests whole.
      for (const b of r.backends)
        assert.ok(
          (
            readFileSync(path.join(r.fx.dir, `fpm-${b.name}`, "fpm.log"), "utf8").match(
              /Reloading in progress/g,
            ) ?? []
          ).length >= 3,
        );

      // The second batch fails its health check: both hosts go back, each drained, none left out.
      r.fx.file(
        "public/health.php",
        "<?php if ($_SERVER['SERVER_ADDR'] === '127.0.0.3') { http_response_code(500); echo 'sick'; return; } echo 'ok';\n",
      );
      const back = await underLoad(
        r.url,
        async () => {
          const d = await cutover(["--json", "deploy"], r.fx.app);
          assert.equal(d.code, 1, d.stderr);
          assert.match(d.stderr, /health check failed: switching every host back/);
          assert.deepEqual(r.backends.map(live), [releases[1], releases[1]], "both switched back");
          // A rollback behind the balancer drains each batch the same way.
          const rolled = await cutover(["--json", "rollback"], r.fx.app);
          assert.equal(rolled.code, 0, rolled.stderr);
          assert.match(rolled.stderr, /out of service/);
        },
        kind === "nginx",
      );
      r.fx.file("public/health.php", "<?php echo 'ok';\n");
      assert.deepEqual(r.backends.map(live), [releases[0], releases[0]], "rolled back");
      assert.deepEqual(r.serverStates(), [inService, inService], "both back in service");
      assert.deepEqual(
        failures(back).slice(0, 3),
        [],
        "failed requests during the drained switch back and rollback",
      );

      // Negative control: the same rolling deploys without the balancer (reload forced) fail requests.
      r.settings(undefined);
      const refused = await cutover(["deploy"], r.fx.app);
      assert.equal(refused.code, 1, "an undrained reload with process_control_timeout 0 is refused");
      assert.match(refused.stderr, /process_control_timeout is 0/);
      // Four deploys, eight reloads: each kills what it meets in flight, and one meeting none is possible.
      const undrained = await underLoad(
        r.url,
        async () => {
          for (let i = 0; i < 4; i++) {
            const d = await cutover(["--json", "deploy", "--force"], r.fx.app);
            assert.equal(d.code, 0, d.stderr);
          }
        },
        kind === "nginx",
      );
      const killed = failures(undrained);
      assert.ok(killed.length > 0, `no failure in ${undrained.length} requests without drain`);
      assert.ok(
        killed.some((s) => s.status === 502),
        "requests in flight at the php-fpm reload fail with 502",
      );
      process.stderr.write(
        `# ${kind}: ${killed.length} of ${undrained.length} requests failed without drain\n`,
      );
    } finally {
      await r.stop();
    }
  });

  test(`${kind}: balancer unreadable, a host unknown to it, or a server out of service: one-line error, nothing changed`, async () => {
    const r = await rig(kind);
    try {
      r.settings(r.balancer);
      const first = await cutover(["--json", "deploy"], r.fx.app);
      assert.equal(first.code, 0, first.stderr);
      const before = r.backends.map((b) => snapshot(b.deployPath));
      const refusedUnchanged = async (pattern: RegExp) => {
        const d = await cutover(["deploy"], r.fx.app);
        assert.equal(d.code, 1, d.stderr);
        assert.match(d.stderr.trim().split("\n")[0]!, pattern);
        assert.doesNotMatch(d.stderr, /\n\s+at /, "no stack trace");
        assert.deepEqual(
          r.backends.map((b) => snapshot(b.deployPath)),
          before,
          "nothing changed on any host",
        );
        return d;
      };

      const undo = r.breakIt();
      r.settings(r.balancer);
      await refusedUnchanged(
        kind === "haproxy"
          ? /balancer: cannot read HAProxy backend app .*cannot connect to the HAProxy socket .*no such\.sock/
          : /balancer: cannot read nginx upstream file .*nginx config test failed .*unknown directive "this"/,
      );
      undo();

      if (kind === "haproxy") {
        r.settings({ ...r.balancer, backend: "nope" });
        await refusedUnchanged(/balancer: cannot read HAProxy backend nope .*Can't find backend/);
      }

      const servers = r.balancer.servers as Record<string, string>;
      const second = r.backends[1]!.name;
      r.settings({
        ...r.balancer,
        servers: { ...servers, [second]: kind === "haproxy" ? "web9" : "127.0.0.9:1" },
      });
      await refusedUnchanged(new RegExp(`balancer: host ${second.replaceAll(".", "\\.")}: .* has no server`));
      const doctor = await cutover(["--json", "doctor"], r.fx.app);
      assert.equal(doctor.code, 1, doctor.stdout);
      assert.match(doctor.stdout, /has no server/, "doctor names the unknown server");

      r.settings(r.balancer);
      const putBack = r.takeOut();
      await refusedUnchanged(/balancer: host 127\.0\.0\.3: server .* is (in maintenance|marked down)/);
      putBack();
      const again = await cutover(["--json", "doctor"], r.fx.app);
      assert.equal(again.code, 0, again.stdout);
      if (r.readOnly) {
        // Last: a socket that reads but refuses changes. The first change (the drain) fails after the
        // release was built: it is marked failed, current and the balancer stay as they were.
        r.settings(r.readOnly);
        const states = r.serverStates();
        const d = await cutover(["deploy"], r.fx.app);
        assert.equal(d.code, 1, d.stderr);
        assert.match(d.stderr, /HAProxy refused: Permission denied/);
        assert.deepEqual(
          r.backends.map((b) => snapshot(b.deployPath).get("current")),
          before.map((b) => b.get("current")),
        );
        assert.deepEqual(r.serverStates(), states, "no server left out");
      }
    } finally {
      await r.stop();
    }
  });
}

test("haproxy over SSH: the balancer host is reached with the stage's SSH executor; drained rolling deploy and its checks", async () => {
  const r = await rig("haproxy");
  const ssh = sshRig();
  try {
    const server = await ssh.start({ address: "127.0.0.9" });
    const { path: _path, ...reach } = sshHost(ssh, server, "/");
    r.settings({ ...r.balancer, ssh: reach });
    const first = await cutover(["--json", "deploy"], r.fx.app);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /balancer take .* out of service/);
    assert.match(server.log(), /Accepted publickey/, "the balancer was reached over SSH");
    assert.deepEqual(r.serverStates(), ["no check", "no check"]);
    r.settings({ ...r.balancer, ssh: { ...reach, port: 1 } });
    const unreachable = await cutover(["deploy"], r.fx.app);
    assert.equal(unreachable.code, 1, unreachable.stderr);
    assert.match(
      unreachable.stderr.split("\n")[0]!,
      /balancer: cannot read HAProxy backend app .* on 127\.0\.0\.9/,
    );
  } finally {
    await ssh.stopAll();
    await r.stop();
  }
});

/**
 * Deploys once through the balancer, then sends requests that run `php` (a script that sleeps) on
 * both servers: the next run's drain of a batch has to wait for them.
 */
async function deployedAndHeld(r: Rig, php: string) {
  r.fx.file("public/hold.php", php);
  r.settings(r.balancer);
  const first = await cutover(["--json", "deploy"], r.fx.app);
  assert.equal(first.code, 0, first.stderr);
  const before = r.backends.map(live);
  const held = Array.from({ length: 4 }, () => fetch(`${r.url}/hold.php`).then((res) => res.text(), String));
  await new Promise((resolve) => setTimeout(resolve, 300));
  return { before, held };
}

test("haproxy: a signal while a batch drains: nothing switched, the batch back in service, exit 130", async () => {
  const r = await rig("haproxy");
  try {
    // Requests that hold sessions on both servers, so the drain of the first batch has to wait.
    const { before, held } = await deployedAndHeld(r, "<?php sleep(4); echo 'held';\n");
    const run = await interruptWhen(["deploy"], r.fx.app, "show stat", "SIGTERM");
    assert.ok(run.sent, "the signal came while cutover read the sessions of the drained batch");
    assert.equal(run.code, 130, run.stderr);
    assert.deepEqual(r.backends.map(live), before, "nothing switched");
    assert.deepEqual(r.serverStates(), ["no check", "no check"], "the drained batch is back in service");
    assert.deepEqual(await Promise.all(held), ["held", "held", "held", "held"], "held requests finished");
  } finally {
    await r.stop();
  }
});

for (const hook of ["before_batch", "after_batch"] as const)
  test(`haproxy: the second batch's ${hook} hook fails after the first batch was switched and back in service: both switched back, each drained, all in service, exit 1`, async () => {
    const r = await rig("haproxy");
    try {
      r.settings(r.balancer);
      const first = await cutover(["--json", "deploy"], r.fx.app);
      assert.equal(first.code, 0, first.stderr);
      const before = r.backends.map(live);
      const build = writeProbeApp(r.fx);
      r.settings(r.balancer, {
        hooks: {
          build,
          [hook]: [`[ "$CUTOVER_HOST" != 127.0.0.3 ] || { echo 'batch 2 refused' >&2; exit 3; }`],
        },
      });
      const d = await cutover(["--json", "deploy"], r.fx.app);
      assert.equal(d.code, 1, d.stderr);
      assert.match(d.stderr, /batch 2 refused/);
      assert.equal(
        (d.stderr.match(/take web1 out of service/g) ?? []).length,
        2,
        "web1 drained again to go back",
      );
      assert.deepEqual(r.backends.map(live), before, "every host serves the release before");
      assert.deepEqual(r.serverStates(), ["no check", "no check"], "all back in service");
    } finally {
      await r.stop();
    }
  });

test("haproxy: a drained rolling run SIGKILLed while its batch is out: the next run tells its drain (.cutover/drained.json) from an operator's, refuses the operator's, puts back only its own", async () => {
  const r = await rig("haproxy");
  try {
    // Requests holding sessions on both servers: the first batch's drain waits, and is killed there.
    const { before, held } = await deployedAndHeld(r, "<?php sleep(3); echo 'held';\n");
    const killed = await interruptWhen(["deploy"], r.fx.app, "show stat", "SIGKILL");
    assert.ok(killed.sent, killed.stderr);
    await Promise.all(held);
    assert.deepEqual(r.serverStates(), ["DRAIN", "no check"], "the killed run left its batch out");
    assert.deepEqual(r.backends.map(live), before, "nothing switched");
    const mark = path.join(r.backends[0]!.deployPath, ".cutover", "drained.json");
    assert.ok(existsSync(mark), "the host records cutover's drain");

    // An operator drains web2 as well: that drain is not cutover's, and the next run refuses it.
    r.ask!("set server app/web2 state drain");
    const refused = await cutover(["deploy"], r.fx.app);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr.split("\n")[0]!, /balancer: host 127\.0\.0\.3: server "web2" is draining/);
    assert.deepEqual(r.serverStates(), ["DRAIN", "DRAIN"], "nothing was put back");
    r.ask!("set server app/web2 state ready");

    // A run of the other host alone would leave web1 out while it takes web2 out: refused, nothing changed.
    const other = await cutover(["deploy", "--hosts", "127.0.0.3"], r.fx.app);
    assert.equal(other.code, 1, other.stderr);
    assert.match(
      other.stderr.split("\n")[0]!,
      /balancer: host 127\.0\.0\.2: server "web1", left out .*not in this run/,
    );
    assert.deepEqual(r.serverStates(), ["DRAIN", "no check"], "web2 was not taken out as well");
    assert.deepEqual(r.backends.map(live), before, "nothing switched");

    const doctor = await cutover(["--json", "doctor"], r.fx.app);
    assert.match(doctor.stdout, /web1.*taken out by a cutover run/);
    const next = await cutover(["--json", "deploy"], r.fx.app);
    assert.equal(next.code, 0, next.stderr);
    assert.match(
      next.stderr,
      /web1 taken out by a cutover run that stopped before putting them back: back in service/,
    );
    const release = json<{ release: string }>(next).release;
    assert.deepEqual(r.backends.map(live), [release, release]);
    assert.deepEqual(r.serverStates(), ["no check", "no check"], "all in service");
    assert.equal(existsSync(mark), false, "the mark went with the drain");
  } finally {
    await r.stop();
  }
});

test("nginx: a drained rolling run SIGKILLed while its batch is out: the next run puts back its own `down` server, never an operator's", async () => {
  const r = await rig("nginx");
  try {
    const { held } = await deployedAndHeld(r, "<?php sleep(3); echo 'held';\n");
    // Killed while it counts nginx's connections to the drained server.
    const killed = await interruptWhen(["deploy"], r.fx.app, "ss -Htn", "SIGKILL");
    assert.ok(killed.sent, killed.stderr);
    await Promise.all(held);
    assert.deepEqual(r.serverStates(), ["down", "ready"], "the killed run left its batch out");

    // The same `down` written by an operator, with no record on its host: refused, never put back.
    const undo = r.takeOut();
    const refused = await cutover(["deploy"], r.fx.app);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr.split("\n")[0]!, /balancer: host 127\.0\.0\.3: server .* is marked down/);
    assert.deepEqual(r.serverStates(), ["down", "down"], "nothing was put back");
    undo();

    const next = await cutover(["--json", "deploy"], r.fx.app);
    assert.equal(next.code, 0, next.stderr);
    assert.match(
      next.stderr,
      /taken out by a cutover run that stopped before putting them back: back in service/,
    );
    const release = json<{ release: string }>(next).release;
    assert.deepEqual(r.backends.map(live), [release, release]);
    assert.deepEqual(r.serverStates(), ["ready", "ready"], "all in service");
  } finally {
    await r.stop();
  }
});

test("haproxy: a drained rolling run SIGKILLed after its batch switched, before its checks: the next run never puts that server back (its release was never checked), names it, switches nothing", async () => {
  const r = await rig("haproxy");
  const marker = `cutover-killpoint-${process.pid}`;
  try {
    r.settings(r.balancer);
    const first = await cutover(["--json", "deploy"], r.fx.app);
    assert.equal(first.code, 0, first.stderr);
    const php = backendSettings(r.fx).php;
    r.settings(r.balancer, {
      php: { ...php, reload_command: `sh -c 'sleep 30' ${marker}; ${php.reload_command}` },
    });
    const killed = await interruptWhen(["deploy"], r.fx.app, marker, "SIGKILL");
    assert.ok(killed.sent, killed.stderr);
    killEach(processesWith(marker));
    const unchecked = r.backends.map(live);
    assert.deepEqual(r.serverStates(), ["DRAIN", "no check"]);

    r.settings(r.balancer);
    const next = await cutover(["deploy"], r.fx.app);
    assert.equal(next.code, 1, next.stderr);
    assert.match(
      next.stderr,
      /^error: balancer: host 127\.0\.0\.2: server "web1" was taken out by a cutover run that stopped after switching it to \S+, which no check passed/m,
    );
    assert.deepEqual(r.serverStates(), ["DRAIN", "no check"], "the unchecked server stays out");
    assert.deepEqual(r.backends.map(live), unchecked, "nothing switched");
  } finally {
    killEach(processesWith(marker));
    await r.stop();
  }
});

test("haproxy: a signal while the second batch drains, after the first batch was switched and back: the first is switched back, the second put back in service, none left out, exit 130", async () => {
  const r = await rig("haproxy");
  try {
    // Held requests: short on web1 (its drain waits them out), long on web2 (its drain is still waiting when the signal comes).
    const { before, held } = await deployedAndHeld(
      r,
      "<?php sleep($_SERVER['SERVER_ADDR'] === '127.0.0.3' ? 12 : 1); echo 'held';\n",
    );
    const child = spawn(process.execPath, [BIN, "deploy"], {
      cwd: r.fx.app,
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      if (/wait for web2 to finish/.test(stderr) && !child.killed) child.kill("SIGTERM");
    });
    const code = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
    await Promise.all(held);
    assert.ok(child.killed, stderr);
    assert.equal(code, 130, stderr);
    assert.match(stderr, /batch 2/, "the first batch was done");
    assert.deepEqual(r.backends.map(live), before, `the first batch was switched back: ${stderr}`);
    assert.deepEqual(r.serverStates(), ["no check", "no check"], "no server left out");
  } finally {
    await r.stop();
  }
});

test("haproxy: the second batch fails its health check and its host cannot be switched back: that server stays out (it still serves the failed release), the first is switched back and in service", async () => {
  const r = await rig("haproxy");
  try {
    r.settings(r.balancer);
    const first = await cutover(["--json", "deploy"], r.fx.app);
    assert.equal(first.code, 0, first.stderr);
    const before = r.backends.map(live);
    // On the second host the check fails, and leaves a file where the switch back makes its link.
    const tmp = path.join(r.backends[1]!.deployPath, ".cutover", "tmp");
    const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
    r.settings(r.balancer, {
      health_check: {
        command: `case "$PWD" in ${q(r.backends[1]!.deployPath)}/*) rm -rf ${q(tmp)} && : > ${q(tmp)}; exit 1 ;; esac`,
        retries: 1,
        interval: 0,
      },
    });
    const d = await cutover(["--json", "deploy"], r.fx.app);
    assert.equal(d.code, 1, d.stderr);
    assert.match(
      d.stderr,
      /warning: balancer: web2 stay out of service: .* could not be switched back and still serve/,
    );
    const failed = json<{ release: string }>(d).release;
    assert.deepEqual(
      r.backends.map(live),
      [before[0], failed],
      "the first switched back, the second could not be",
    );
    assert.deepEqual(
      r.serverStates(),
      ["no check", "DRAIN"],
      "only the host on the failed release stays out",
    );
    // The next run names it and changes nothing.
    rmSync(tmp);
    const next = await cutover(["deploy"], r.fx.app);
    assert.equal(next.code, 1, next.stderr);
    assert.match(
      next.stderr.split("\n").find((l) => l.startsWith("error: ")) ?? "",
      /web2.*which no check passed/,
      next.stderr,
    );
    assert.deepEqual(r.serverStates(), ["no check", "DRAIN"]);
  } finally {
    await r.stop();
  }
});
