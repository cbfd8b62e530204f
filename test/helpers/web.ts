import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { freePort, waitForPort } from "./ports.js";

export interface Daemon {
  readonly pid: number;
  log(): string;
  stop(): Promise<void>;
}

export function daemon(
  command: string,
  args: readonly string[],
  logFile?: string,
  options: { ownProcessGroup?: boolean } = {},
): Daemon {
  const child: ChildProcess = spawn(command, [...args], {
    stdio: ["ignore", "ignore", "pipe"],
    detached: options.ownProcessGroup,
  });
  let log = "";
  child.stderr!.on("data", (c: Buffer) => {
    log += c.toString();
  });
  return {
    pid: child.pid!,
    log: () => log + (logFile ? safeRead(logFile) : ""),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        process.kill(child.pid!, "SIGTERM");
      }),
  };
}

/** A server that never listens says why: its log (a config error) goes into the error; it is stopped. */
export async function started(d: Daemon, listening: Promise<void>): Promise<void> {
  try {
    await listening;
  } catch (error) {
    await d.stop();
    throw new Error(`${(error as Error).message}\n${d.log()}`);
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

export interface Fpm extends Daemon {
  /** Where the pool listens: a unix socket path, or 127.0.0.1:port with `tcp`. */
  readonly socket: string;
}

/**
 * A php-fpm 8.2 pool on a unix socket (or a loopback TCP port), run as www-data, with OPcache (on by
 * default in php-fpm; setting opcache.enable per pool only logs a warning in every worker).
 */
export async function startFpm(
  dir: string,
  options: {
    validateTimestamps: boolean;
    children?: number;
    processControlTimeout?: string;
    /** More php_admin_value settings for the pool. */
    ini?: Record<string, string>;
    tcp?: boolean;
  },
): Promise<Fpm> {
  mkdirSync(dir, { recursive: true });
  const port = options.tcp ? await freePort() : undefined;
  const socket = port ? `127.0.0.1:${port}` : path.join(dir, "fpm.sock");
  const conf = path.join(dir, "php-fpm.conf");
  writeFileSync(
    conf,
    `[global]
pid = ${dir}/fpm.pid
error_log = ${dir}/fpm.log
daemonize = no
${options.processControlTimeout ? `process_control_timeout = ${options.processControlTimeout}\n` : ""}[app]
user = www-data
group = www-data
listen = ${socket}
listen.mode = 0666
pm = static
pm.max_children = ${options.children ?? 12}
catch_workers_output = yes
php_admin_value[opcache.validate_timestamps] = ${options.validateTimestamps ? 1 : 0}
php_admin_value[opcache.revalidate_freq] = 2
php_admin_value[max_execution_time] = 30
${Object.entries(options.ini ?? {})
  .map(([key, value]) => `php_admin_value[${key}] = "${value}"\n`)
  .join("")}`,
  );
  const d = daemon("/usr/sbin/php-fpm8.2", ["-y", conf, "-F"], path.join(dir, "fpm.log"));
  if (port) await waitForPort(port);
  for (let i = 0; !port && i < 200; i++) {
    try {
      readFileSync(socket);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") break;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return { ...d, socket };
}

export interface Nginx extends Daemon {
  readonly port: number;
  readonly url: string;
}

/** nginx serving the server blocks `server` returns for a free port (or `port`), listening on `address`. */
export async function startNginx(
  dir: string,
  server: (listen: string) => string,
  address = "127.0.0.1",
  fixedPort?: number,
): Promise<Nginx> {
  mkdirSync(dir, { recursive: true });
  const port = fixedPort ?? (await freePort(address));
  const conf = path.join(dir, "nginx.conf");
  // Relative includes (fastcgi_params) resolve next to the main config, as they do in /etc/nginx.
  copyFileSync("/etc/nginx/fastcgi_params", path.join(dir, "fastcgi_params"));
  writeFileSync(
    conf,
    `worker_processes 1;
pid "${dir}/nginx.pid";
error_log "${dir}/nginx-error.log";
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path "${dir}/body";
  fastcgi_temp_path "${dir}/fastcgi";
  proxy_temp_path "${dir}/proxy";
  scgi_temp_path "${dir}/scgi";
  uwsgi_temp_path "${dir}/uwsgi";
${server(`${address}:${port}`)}
}
`,
  );
  const d = daemon("/usr/sbin/nginx", ["-c", conf, "-g", "daemon off;"], path.join(dir, "nginx-error.log"));
  await started(d, waitForPort(port, address));
  return { ...d, port, url: `http://${address}:${port}` };
}

/**
 * Apache 2.4 in the foreground, serving the vhost text `vhost` returns for a free port: mpm_event
 * with proxy_fcgi (php-fpm), or mpm_prefork with mod_php 8.2 (OPcache on, as Debian ships it).
 */
export async function startApache(
  dir: string,
  vhost: (listen: string) => string,
  options: { modPhp?: boolean } = {},
): Promise<Nginx> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const modules = options.modPhp
    ? ["mpm_prefork", "authz_core", "dir", "mime"]
    : ["mpm_event", "authz_core", "dir", "mime", "proxy", "proxy_fcgi", "setenvif"];
  writeFileSync(path.join(dir, "vhost.conf"), vhost(`127.0.0.1:${port}`));
  const conf = path.join(dir, "apache2.conf");
  // Keep-alive and process settings so that the server never closes a connection the client is
  // sending on: such resets come from the server's own housekeeping, not from the deploy under test.
  const mpm = options.modPhp
    ? // prefork: one process per connection; enough started up front, none recycled.
      `StartServers 80
MinSpareServers 80
MaxSpareServers 120
ServerLimit 120
MaxRequestWorkers 120`
    : // event: a child holding more connections than its threads can serve closes all its keep-alive
      // connections; one child with threads for every connection the tests open.
      `StartServers 1
ServerLimit 1
ThreadLimit 256
ThreadsPerChild 256
MaxRequestWorkers 256
MinSpareThreads 1
MaxSpareThreads 256`;
  writeFileSync(
    conf,
    `ServerRoot "/etc/apache2"
DefaultRuntimeDir "${dir}"
PidFile "${dir}/apache.pid"
ErrorLog "${dir}/error.log"
Mutex "file:${dir}" default
${modules.map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`).join("\n")}
${options.modPhp ? "LoadModule php_module /usr/lib/apache2/modules/libphp8.2.so" : ""}
User www-data
Group www-data
ServerName localhost
# As Debian's ports.conf: the printed vhost has no Listen of its own.
Listen 127.0.0.1:${port}
TypesConfig /etc/mime.types
KeepAlive On
MaxKeepAliveRequests 0
# A prefork child told to stop gracefully still waits out an idle keep-alive connection: Apache's
# default 5 s there (cutover waits for it), long for the event MPM, which closes them at once.
KeepAliveTimeout ${options.modPhp ? 5 : 300}
${mpm}
MaxConnectionsPerChild 0
Include "${dir}/vhost.conf"
`,
  );
  // mpm_prefork signals its whole process group on stop and restart: give it its own.
  const d = daemon("/usr/sbin/apache2", ["-f", conf, "-DFOREGROUND"], path.join(dir, "error.log"), {
    ownProcessGroup: true,
  });
  await started(d, waitForPort(port));
  return { ...d, port, url: `http://127.0.0.1:${port}` };
}
