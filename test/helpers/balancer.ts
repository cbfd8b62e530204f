import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { nginxConfig } from "../../src/integrations/web/server-config.js";
import type { Fixture } from "./fixture.js";
import { freePort, waitForPort } from "./ports.js";
import { type Daemon, daemon, type Fpm, type Nginx, started, startFpm, startNginx } from "./web.js";

/** One backend: its own deploy path, php-fpm pool and nginx, on its own loopback address. */
export interface Backend {
  /** The host's name in cutover.yaml: its address, so health_check.url can be http://{name}:PORT/. */
  readonly name: string;
  readonly address: string;
  readonly deployPath: string;
  readonly fpm: Fpm;
  readonly web: Nginx;
}

/**
 * Backends on 127.0.0.2, 127.0.0.3, ... all on one port. Each pool's directory is fpm-NAME, so the
 * config's php.fpm socket and reload command name the host: `{name}`. process_control_timeout is
 * unset (0): a php-fpm reload kills the requests in flight.
 */
export async function startBackends(fx: Fixture, count: number): Promise<Backend[]> {
  const port = await freePort("127.0.0.2");
  const backends: Backend[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = `127.0.0.${i + 2}`;
      const deployPath = path.join(fx.dir, `deploy ${name}`);
      const fpm = await startFpm(path.join(fx.dir, `fpm-${name}`), {
        validateTimestamps: true,
        children: 24,
      });
      const web = await startNginx(
        path.join(fx.dir, `web-${name}`),
        (listen) => nginxConfig({ deployPath, webroot: "public", listen, serverName: "_" }, fpm.socket),
        name,
        port,
      ).catch(async (e) => {
        await fpm.stop();
        throw e;
      });
      backends.push({ name, address: `${name}:${port}`, deployPath, fpm, web });
    }
  } catch (error) {
    await stopAll(backends);
    throw error;
  }
  return backends;
}

export async function stopAll(backends: readonly Backend[]): Promise<void> {
  for (const b of backends) {
    await b.web.stop();
    await b.fpm.stop();
  }
}

/** cutover.yaml settings for the backends: a php-fpm pool per host, reloaded per host. */
export function backendSettings(fx: Fixture) {
  return {
    php: {
      fpm: [{ socket: path.join(fx.dir, "fpm-{name}", "fpm.sock"), reset: "reload" }],
      reload_command: `kill -USR2 "$(cat '${path.join(fx.dir, "fpm-{name}", "fpm.pid")}')"`,
      reset_wait: 20,
    },
  };
}

export interface Haproxy extends Daemon {
  readonly url: string;
  readonly socket: string;
  /** A socket at level operator: it reads states, and answers "Permission denied" to set commands. */
  readonly operatorSocket: string;
  /** One runtime API command, answered (through socat, as an operator would). */
  ask(command: string): string;
}

/** HAProxy 2.6 in the foreground: frontend on a free port, backend `app` with a server per backend. */
export async function startHaproxy(
  dir: string,
  servers: readonly { name: string; address: string; disabled?: boolean }[],
) {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const socket = path.join(dir, "admin.sock");
  const conf = path.join(dir, "haproxy.cfg");
  writeFileSync(
    conf,
    `global
  stats socket "${socket}" mode 600 level admin
  stats socket "${path.join(dir, "operator.sock")}" mode 600 level operator
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
frontend web
  bind 127.0.0.1:${port}
  default_backend app
backend app
  balance roundrobin
${servers.map((s) => `  server ${s.name} ${s.address}${s.disabled ? " disabled" : ""}`).join("\n")}
`,
  );
  const d = daemon("/usr/sbin/haproxy", ["-db", "-f", conf]);
  await started(d, waitForPort(port));
  return {
    ...d,
    url: `http://127.0.0.1:${port}`,
    socket,
    operatorSocket: path.join(dir, "operator.sock"),
    ask: (command: string) =>
      execFileSync("socat", ["-t", "2", "-", `UNIX-CONNECT:${socket}`], { input: `${command}\n` }).toString(),
  } satisfies Haproxy;
}

/** nginx as the balancer: an upstream block that includes `upstreamFile` (written here with every server). */
export async function startNginxBalancer(
  dir: string,
  upstreamFile: string,
  addresses: readonly string[],
  down: readonly string[] = [],
): Promise<Nginx & { readonly conf: string }> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    upstreamFile,
    addresses.map((a) => `server ${a}${down.includes(a) ? " down" : ""};\n`).join(""),
  );
  const web = await startNginx(
    dir,
    (listen) => `upstream app {
    include "${upstreamFile}";
  }
  server {
    listen ${listen};
    location / { proxy_pass http://app; proxy_next_upstream off; }
  }`,
  );
  return { ...web, conf: path.join(dir, "nginx.conf") };
}
