import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, waitForPort } from "./ports.js";

export interface Sshd {
  readonly address: string;
  readonly port: number;
  readonly pid: number;
  /** The `[address]:port key` line for known_hosts. */
  readonly knownHostsLine: string;
  /** Lines sshd logged so far (LogLevel VERBOSE: one "Accepted publickey" per authenticated connection). */
  log(): string;
  /** PIDs of every process serving connections (all descendants of the listener). */
  descendants(): number[];
  stop(): Promise<void>;
}

export interface SshRig {
  readonly dir: string;
  readonly clientKey: string;
  readonly knownHosts: string;
  start(options?: { address?: string; extraConfig?: readonly string[] }): Promise<Sshd>;
  stopAll(): Promise<void>;
}

/**
 * A test rig of real OpenSSH servers on loopback: host and client keys generated into a temp dir,
 * each sshd started with `-D` on a free port and stopped by its PID.
 */
export function sshRig(): SshRig {
  ensureTestUser(TEST_ROOT, { uid0: true });
  const dir = mkdtempSync(path.join(os.tmpdir(), "cutover-sshd-"));
  const keygen = (file: string) => execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file]);
  const clientKey = path.join(dir, "client key");
  const hostKey = path.join(dir, "host_ed25519");
  keygen(clientKey);
  keygen(hostKey);
  // sshd reads authorized_keys as the logging-in user: let a non-root test user read it.
  chmodSync(dir, 0o755);
  writeFileSync(path.join(dir, "authorized_keys"), readFileSync(`${clientKey}.pub`), { mode: 0o644 });
  const knownHosts = path.join(dir, "known_hosts");
  writeFileSync(knownHosts, "");
  mkdirSync("/run/sshd", { recursive: true });
  const servers: Sshd[] = [];

  const start = async (
    options: { address?: string; extraConfig?: readonly string[] } = {},
  ): Promise<Sshd> => {
    const address = options.address ?? "127.0.0.1";
    const port = await freePort(address);
    const config = path.join(dir, `sshd-${address}-${port}.conf`);
    writeFileSync(
      config,
      [
        `Port ${port}`,
        `ListenAddress ${address}`,
        `HostKey ${hostKey}`,
        `PidFile ${path.join(dir, `sshd-${port}.pid`)}`,
        `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
        "StrictModes no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "PermitRootLogin yes",
        "MaxSessions 200",
        "MaxStartups 200:30:400",
        "LogLevel VERBOSE",
        ...(options.extraConfig ?? []),
        "",
      ].join("\n"),
    );
    let log = "";
    const child: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr!.on("data", (c: Buffer) => {
      log += c.toString();
    });
    await waitForPort(port, address);
    const hostPub = readFileSync(`${hostKey}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
    const server: Sshd = {
      address,
      port,
      pid: child.pid!,
      knownHostsLine: `[${address}]:${port} ${hostPub}`,
      log: () => log,
      descendants: () => descendantsOf(child.pid!),
      stop: () =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once("exit", () => resolve());
          process.kill(child.pid!, "SIGTERM");
        }),
    };
    servers.push(server);
    writeFileSync(knownHosts, `${readFileSync(knownHosts, "utf8")}${server.knownHostsLine}\n`);
    return server;
  };

  return {
    dir,
    clientKey,
    knownHosts,
    start,
    stopAll: async () => {
      await Promise.all(servers.map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** All descendants of a pid, from /proc (no process names involved). */
export function descendantsOf(pid: number): number[] {
  const direct = childrenOf(pid);
  return [...direct, ...direct.flatMap(descendantsOf)];
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/**
 * A local account for SSH tests, made once (tests run as root). Its shell is /bin/sh and its home is
 * empty, so no login dotfiles run: root's ~/.bashrc on this machine (pyenv rehash, which waits up to
 * 60 s for a lock a killed session leaves behind) would otherwise make every connection slow.
 */
export function ensureTestUser(name: string, options: { uid0?: boolean } = {}): string {
  const exists = () => {
    try {
      execFileSync("id", [name], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  };
  const home = `/var/lib/${name}`;
  // "*": no password, but not a locked account (sshd refuses locked ones). -o -u 0: root's powers
  // under another name, like BSD's toor.
  const uid = options.uid0 ? ["-o", "-u", "0", "-g", "0"] : [];
  for (let attempt = 0; !exists(); attempt++) {
    try {
      execFileSync("useradd", [...uid, "-d", home, "-m", "-s", "/bin/sh", "-p", "*", name], {
        stdio: "pipe",
      });
    } catch (error) {
      // Test files run in parallel: another one may hold the passwd lock or have made the user.
      if (attempt >= 20) throw error;
      execFileSync("sleep", ["0.2"]);
    }
  }
  return name;
}

/** The rig's login: root's powers, a plain /bin/sh login with no dotfiles. */
export const TEST_ROOT = "cutover-root";

/** Host entry for cutover.yaml that reaches `server` with the rig's key and known_hosts. */
export function sshHost(
  rig: SshRig,
  server: Sshd,
  deployPath: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    host: server.address,
    port: server.port,
    user: TEST_ROOT,
    path: deployPath,
    identity_file: rig.clientKey,
    ssh_options: [`UserKnownHostsFile=${rig.knownHosts}`],
    ...extra,
  };
}
