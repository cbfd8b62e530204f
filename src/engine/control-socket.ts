import { createHash } from "node:crypto";
import { lstatSync, realpathSync } from "node:fs";
import path from "node:path";
import type { SshAddress } from "../config/resolve.js";
import { privateCacheDir, privateDir } from "./private-cache.js";

/**
 * The longest socket path OpenSSH can bind: sun_path holds 107 bytes, and the master first binds a
 * temporary name 17 bytes longer than its ControlPath.
 */
const SOCKET_PATH_MAX = 90;
/** What `%C` expands to: 40 hex digits. */
const OPENSSH_HASH = 40;

/**
 * The ControlPath of a connection kept between runs (`ssh.persist`), or undefined when there is no
 * safe place for it (the connection then closes with the run). The name joins a hash of what
 * cutover passes (login, address, port, key, options, host-key setting) with OpenSSH's own `%C`, a
 * hash of the host, port and user as ~/.ssh/config resolves them: a changed alias, or other
 * options, open a connection of their own instead of reusing one to another place.
 * The directory is $XDG_RUNTIME_DIR/cutover-ssh, else cutover's cache directory: private to this
 * user, and every directory above it owned by root or this user and writable by no one else (or
 * sticky, as /tmp), since OpenSSH trusts whatever answers at that path.
 */
export function persistentControlPath(addr: SshAddress, acceptNewHostKeys: boolean): string | undefined {
  const key = createHash("sha256")
    .update(
      JSON.stringify([
        addr.user ?? "",
        addr.host,
        addr.port ?? "",
        addr.identityFile ?? "",
        addr.options,
        acceptNewHostKeys,
      ]),
    )
    .digest("hex")
    .slice(0, 12);
  const runtime = process.env.XDG_RUNTIME_DIR;
  const candidates = [
    () => (runtime && path.isAbsolute(runtime) ? privateDir(path.join(runtime, "cutover-ssh")) : undefined),
    () => privateCacheDir("ssh"),
  ];
  for (const candidate of candidates) {
    const dir = candidate();
    if (dir === undefined || !safeAncestors(dir)) continue;
    const file = path.join(dir, `${key}-`);
    if (Buffer.byteLength(file) + OPENSSH_HASH <= SOCKET_PATH_MAX) return `${file.replaceAll("%", "%%")}%C`;
  }
  return undefined;
}

/** Every directory above `dir` is owned by root or this user, and no one else may rename in it. */
function safeAncestors(dir: string): boolean {
  try {
    return safeDirs(path.dirname(realpathSync(dir)));
  } catch {
    return false;
  }
}

/** `dir` (links resolved) and every directory above it are owned by root or this user, and no one else may rename in them. */
export function safeDirs(dir: string): boolean {
  try {
    const me = process.getuid?.();
    for (let p = realpathSync(dir); ; p = path.dirname(p)) {
      const s = lstatSync(p);
      if (!s.isDirectory() || (s.uid !== 0 && s.uid !== me)) return false;
      if ((s.mode & 0o022) !== 0 && (s.mode & 0o1000) === 0) return false;
      if (p === path.dirname(p)) return true;
    }
  } catch {
    return false;
  }
}
