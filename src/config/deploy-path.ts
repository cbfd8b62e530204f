import path from "node:path/posix";

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

/** Why this deploy path is refused, or undefined when it is fine. */
export function refuseDeployPath(p: string): string | undefined {
  if (p.split("/").includes("..")) return 'contains "..": give the deploy path without it';
  const normal = path.normalize(p).replace(/(.)\/$/, "$1");
  if (SYSTEM_DIRS.has(normal)) return "is a system directory, not a deploy path";
  return undefined;
}
