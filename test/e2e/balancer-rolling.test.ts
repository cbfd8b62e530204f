import assert from "node:assert/strict";
import { appendFileSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { Probe, type Sample } from "../../src/probe/probe.js";
import {
  type Backend,
  backendSettings,
  startBackends,
  startHaproxy,
  startNginxBalancer,
  stopAll,
} from "../helpers/balancer.js";
import { cutover, json } from "../helpers/cli.js";
import { type Fixture, fixture } from "../helpers/fixture.js";
import { writeProbeApp } from "../helpers/php-app.js";
import { snapshot } from "../helpers/tree.js";

type Kind = "haproxy" | "nginx";

interface Rig {
  readonly fx: Fixture;
  readonly backends: readonly Backend[];
  /** The balancer's frontend. */
  readonly url: string;
  readonly balancer: Record<string, unknown>;
  /** A server's state in the balancer, read without cutover: "ready", "drain" or "maint"/"down". */
  readonly serverStates: () => string[];
  /** Breaks the balancer so it cannot be read (wrong socket, config that fails nginx -t); returns the undo. */
  readonly breakIt: () => () => void;
  /** Takes the second server out of service behind cutover's back; returns the undo. */
  readonly takeOut: () => () => void;
  /** Writes cutover.yaml with this balancer (none: undefined). */
  readonly settings: (balancer: Record<string, unknown> | undefined) => void;
  readonly stop: () => Promise<void>;
}

/** Two backends (nginx + php-fpm, each on its own loopback address) behind a real HAProxy or nginx. */
async function rig(kind: Kind): Promise<Rig> {
  const fx = fixture(`balanced ${kind}`);
  const build = writeProbeApp(fx);
  // A slow page (200-500 ms) keeps requests in flight at every php-fpm reload.
  fx.file(
    "public/slow.php",
    `<?php
usleep(random_int(200, 500) * 1000);
$a = include __DIR__ . '/../lib/a.php';
header("X-Release: $a");
echo "slow $a\\n";
`,
  );
  const backends = await startBackends(fx, 2);
  const port = backends[0]!.address.split(":")[1];
  const hosts = backends.map((b) => ({ name: b.name, path: b.deployPath }));
  const servers = Object.fromEntries(
    backends.map((b, i) => [b.name, kind === "haproxy" ? `web${i + 1}` : b.address]),
  );
  const stopBackends = () => stopAll(backends);
  let url: string;
  let balancer: Record<string, unknown>;
  let serverStates: () => string[];
  let breakIt: () => () => void;
  let takeOut: () => () => void;
  let stopBalancer: () => Promise<void>;
  try {
    if (kind === "haproxy") {
      const h = await startHaproxy(
        path.join(fx.dir, "haproxy"),
        backends.map((b, i) => ({ name: `web${i + 1}`, address: b.address })),
      );
      url = h.url;
      stopBalancer = h.stop;
      balancer = { type: "haproxy", socket: h.socket, backend: "app", servers, drain_timeout: 20 };
      serverStates = () => {
        const stat = h
          .ask("show stat")
          .split("\n")
          .map((l) => l.split(","));
        const header = stat[0]!;
        const status = header.indexOf("status");
        return stat.filter((f) => f[0] === "app" && /^web/.test(f[1] ?? "")).map((f) => f[status]!);
      };
      breakIt = () => {
        balancer = { ...balancer, socket: path.join(fx.dir, "haproxy", "no such.sock") };
        return () => {
          balancer = { ...balancer, socket: h.socket };
        };
      };
      takeOut = () => {
        h.ask("set server app/web2 state maint");
        return () => h.ask("set server app/web2 state ready");
      };
    } else {
      const upstream = path.join(fx.dir, "balancer", "app upstream.conf");
      const n = await startNginxBalancer(
        path.join(fx.dir, "balancer"),
        upstream,
        backends.map((b) => b.address),
      );
      url = n.url;
      stopBalancer = n.stop;
      balancer = {
        type: "nginx",
        upstream_file: upstream,
        test_command: `nginx -q -t -c '${n.conf}'`,
        reload_command: `nginx -c '${n.conf}' -s reload`,
        servers,
        drain_timeout: 20,
      };
      serverStates = () =>
        readFileSync(upstream, "utf8")
          .split("\n")
          .filter((l) => l.startsWith("server"))
          .map((l) => (l.includes(" down") ? "down" : "ready"));
      takeOut = () => {
        const text = readFileSync(upstream, "utf8");
        writeFileSync(
          upstream,
          text.replace(`server ${backends[1]!.address};`, `server ${backends[1]!.address} down;`),
        );
        return () => writeFileSync(upstream, text);
      };
      breakIt = () => {
        const conf = readFileSync(n.conf, "utf8");
        appendFileSync(n.conf, "\nthis is not nginx;\n");
        return () => writeFileSync(n.conf, conf);
      };
    }
  } catch (error) {
    await stopBackends();
    fx.cleanup();
    throw error;
  }
  const settings = (chosen: Record<string, unknown> | undefined) =>
    fx.writeConfig(
      {
        shared_dirs: [],
        shared_files: [],
        writable_dirs: [],
        hooks: { build },
        ...backendSettings(fx),
        rolling: { batch: 1 },
        health_check: { url: `http://{name}:${port}/health.php`, expect_body: "ok" },
        ...(chosen ? { balancer: chosen } : {}),
      },
      hosts,
    );
  return {
    fx,
    backends,
    url,
    get balancer() {
      return balancer;
    },
    serverStates,
    breakIt,
    takeOut,
    settings,
    stop: async () => {
      await stopBalancer();
      await stopBackends();
      fx.cleanup();
    },
  };
}

function failures(samples: readonly Sample[]): Sample[] {
  return samples.filter((s) => s.error !== null || s.status !== 200);
}

/**
 * Failures other than a connection closed before any answer: nginx reloads to take a server out,
 * and its old workers close their idle keep-alive (and just-accepted) client connections, so a
 * request that leaves at that moment meets a closed connection. HTTP clients retry those
 * (RFC 9112 9.3.1); the probe does not, so they are counted apart, never hidden.
 */
function answeredFailures(samples: readonly Sample[]): Sample[] {
  return failures(samples).filter((s) => !(s.error === "reset" && s.status === null));
}

/** 50 keep-alive clients on / (50-200 ms) and 10 on /slow.php (200-500 ms), through the balancer. */
async function underLoad(url: string, work: () => Promise<void>): Promise<Sample[]> {
  const probes = [
    new Probe({ url: `${url}/`, concurrency: 50, maxDurationMs: 240_000 }),
    new Probe({ url: `${url}/slow.php`, concurrency: 10, maxDurationMs: 240_000 }),
  ];
  for (const p of probes) p.start();
  try {
    await new Promise((r) => setTimeout(r, 500));
    await work();
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    for (const p of probes) await p.stop();
  }
  return (await Promise.all(probes.map((p) => p.stop()))).flat();
}

const live = (b: Backend) => path.basename(realpathSync(path.join(b.deployPath, "current")));

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
      const drained = await underLoad(r.url, async () => {
        for (let i = 0; i < 2; i++) {
          const d = await cutover(["--json", "deploy"], r.fx.app);
          assert.equal(d.code, 0, d.stderr);
          releases.push(json<{ release: string }>(d).release);
          assert.match(d.stderr, /out of service/, "each batch was taken out of the balancer");
        }
      }).finally(() => clearInterval(watcher));
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
      // HAProxy changes server states without closing a client connection: nothing at all may fail.
      // nginx reloads to drain: its old workers close idle keep-alive connections (see answeredFailures).
      const failed = kind === "haproxy" ? failures(drained) : answeredFailures(drained);
      assert.deepEqual(failed.slice(0, 3), [], "failed requests with drain");
      const idle = failures(drained).length;
      assert.ok(idle < drained.length / 100, `${idle} connections closed at nginx reloads`);
      if (idle > 0)
        process.stderr.write(
          `# ${kind}: ${idle} connections closed at nginx reloads, of ${drained.length} requests\n`,
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

      // Negative control: the same rolling deploys without the balancer (reload forced) fail requests.
      r.settings(undefined);
      const refused = await cutover(["deploy"], r.fx.app);
      assert.equal(refused.code, 1, "an undrained reload with process_control_timeout 0 is refused");
      assert.match(refused.stderr, /process_control_timeout is 0/);
      const undrained = await underLoad(r.url, async () => {
        for (let i = 0; i < 2; i++) {
          const d = await cutover(["--json", "deploy", "--force"], r.fx.app);
          assert.equal(d.code, 0, d.stderr);
        }
      });
      const killed = answeredFailures(undrained);
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
      await refusedUnchanged(/balancer: cannot read .*(HAProxy backend app|nginx upstream file)/);
      undo();

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
    } finally {
      await r.stop();
    }
  });
}
