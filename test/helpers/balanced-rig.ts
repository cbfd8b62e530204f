import { appendFileSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Probe, type Sample } from "../../src/probe/probe.js";
import {
  type Backend,
  backendSettings,
  startBackends,
  startHaproxy,
  startNginxBalancer,
  stopAll,
} from "./balancer.js";
import { type Fixture, fixture } from "./fixture.js";
import { writeProbeApp } from "./php-app.js";

export type Kind = "haproxy" | "nginx";

export interface Rig {
  readonly fx: Fixture;
  readonly backends: readonly Backend[];
  /** The balancer's frontend. */
  readonly url: string;
  readonly balancer: Record<string, unknown>;
  /** HAProxy only: the balancer through a socket that may read but not change (level operator). */
  readonly readOnly?: Record<string, unknown>;
  /** HAProxy only: one runtime API command, answered (as an operator would send it). */
  readonly ask?: (command: string) => string;
  /** A server's state in the balancer, read without cutover: "ready", "drain" or "maint"/"down". */
  readonly serverStates: () => string[];
  /** Breaks the balancer so it cannot be read (wrong socket, config that fails nginx -t); returns the undo. */
  readonly breakIt: () => () => void;
  /** Takes the second server out of service behind cutover's back; returns the undo. */
  readonly takeOut: () => () => void;
  /** Writes cutover.yaml with this balancer (none: undefined), and `extra` settings over the rig's. */
  readonly settings: (balancer: Record<string, unknown> | undefined, extra?: Record<string, unknown>) => void;
  readonly stop: () => Promise<void>;
}

/** Two backends (nginx + php-fpm, each on its own loopback address) behind a real HAProxy or nginx. */
export async function rig(kind: Kind, options: { secondOut?: boolean } = {}): Promise<Rig> {
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
  let readOnly: Record<string, unknown> | undefined;
  let ask: ((command: string) => string) | undefined;
  let takeOut: () => () => void;
  let stopBalancer: () => Promise<void>;
  try {
    if (kind === "haproxy") {
      const h = await startHaproxy(
        path.join(fx.dir, "haproxy"),
        backends.map((b, i) => ({
          name: `web${i + 1}`,
          address: b.address,
          disabled: i === 1 && options.secondOut,
        })),
      );
      url = h.url;
      stopBalancer = h.stop;
      balancer = { type: "haproxy", socket: h.socket, backend: "app", servers, drain_timeout: 20 };
      readOnly = { ...balancer, socket: h.operatorSocket };
      ask = h.ask;
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
        options.secondOut ? [backends[1]!.address] : [],
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
  const settings = (chosen: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) =>
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
        ...extra,
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
    readOnly,
    ask,
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

export function failures(samples: readonly Sample[]): Sample[] {
  return samples.filter((s) => s.error !== null || s.status !== 200);
}

/** Requests sent again because nginx closed their kept-alive connection before answering. */
export function retried(samples: readonly Sample[]): number {
  return samples.filter((s) => s.retried).length;
}

/** 50 keep-alive clients on / (50-200 ms) and 10 on /slow.php (200-500 ms), through the balancer. */
/**
 * nginx reloads to take a server out, and its old workers close their idle keep-alive (and
 * just-accepted) client connections: a GET leaving on one at that moment meets a closed connection
 * before any answer, which browsers send again (RFC 9112 9.3.1). Through nginx the clients do that (`retryClosedKeepAlive`), and the
 * requests sent again are counted; through HAProxy they never retry.
 */
export async function underLoad(
  url: string,
  work: () => Promise<void>,
  retryClosedKeepAlive = false,
): Promise<Sample[]> {
  const probes = [
    new Probe({ url: `${url}/`, concurrency: 50, maxDurationMs: 240_000, retryClosedKeepAlive }),
    new Probe({ url: `${url}/slow.php`, concurrency: 10, maxDurationMs: 240_000, retryClosedKeepAlive }),
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

export const live = (b: Backend) => path.basename(realpathSync(path.join(b.deployPath, "current")));
