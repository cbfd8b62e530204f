import path from "node:path/posix";
import { configError } from "../errors.js";
import type { ResolvedHost } from "./types.js";

/**
 * Directories that are never a deploy path: cutover creates releases/, shared/, .cutover and
 * current in it and removes releases it made there, so a system directory is refused outright.
 * (The login's $HOME is refused on the host, where it is known.)
 */
const SYSTEM_DIRS = new Set([
  "/",
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/home",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/media",
  "/mnt",
  "/opt",
  "/proc",
  "/root",
  "/run",
  "/sbin",
  "/sys",
  "/tmp",
  "/usr",
  "/usr/bin",
  "/usr/lib",
  "/usr/local",
  "/usr/sbin",
  "/usr/share",
  "/var",
  "/var/lib",
  "/var/log",
]);

/** Names of a deploy path's own layout. */
const LAYOUT = new Set(["current", "releases", "shared", ".cutover"]);

/** Why this deploy path is refused, or undefined when it is fine. */
export function refuseDeployPath(p: string): string | undefined {
  if (p.split("/").includes("..")) return 'contains "..": give the deploy path without it';
  const normal = path.normalize(p).replace(/(.)\/$/, "$1");
  if (SYSTEM_DIRS.has(normal)) return "is a system directory, not a deploy path";
  // A path inside another deploy path (its current, say) would be taken for that deploy's files.
  const name = path.basename(normal);
  if (LAYOUT.has(name)) return `ends in "${name}", a name of cutover's own layout`;
  return undefined;
}

/**
 * Every host's deploy path is one cutover may own, and no two hosts of a stage share one on the
 * same machine: they would take each other's lock, and the second would fail as "locked".
 */
export function checkHostPaths(hosts: readonly ResolvedHost[], where: (key: string) => string): void {
  const owners = new Map<string, ResolvedHost>();
  for (const [i, h] of hosts.entries()) {
    const refusal = refuseDeployPath(h.path);
    if (refusal)
      throw configError(
        `${where(`hosts[${i}].path`)}: ${h.path} ${refusal}`,
        "deploy into a directory of its own, e.g. /var/www/my-app: the directory that holds current, releases/ and shared/",
      );
    // Compared as written (port 22 when none is given): localhost and 127.0.0.1 are not known as one.
    const machine = h.ssh
      ? `${h.ssh.user ? `${h.ssh.user}@` : ""}${h.ssh.host.toLowerCase()}:${h.ssh.port ?? 22}`
      : "this machine";
    const owner = owners.get(`${machine}\0${h.path}`);
    if (owner)
      throw configError(
        `${where(`hosts[${i}]`)}: host ${h.name} has the deploy path ${h.path} of host ${owner.name} on the same machine (${machine})`,
        "give each host of a stage a deploy path of its own, or list the machine once",
      );
    owners.set(`${machine}\0${h.path}`, h);
  }
}
