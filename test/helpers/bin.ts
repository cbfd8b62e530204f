import { execFileSync } from "node:child_process";
import { lstatSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * A PATH directory with every command of /usr/bin and /bin except `without`, and `scripts` (name →
 * sh script body) in their place: a host that lacks a tool, or whose tool lies.
 */
export function fakeBin(
  dir: string,
  without: readonly string[],
  scripts: Record<string, string> = {},
): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(scripts))
    writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  // Taken is what is there, link or not: a dangling link in /usr/bin (one that points nowhere now)
  // is linked once, not again from /bin (the same directory on a merged /usr).
  const taken = (name: string) => {
    try {
      lstatSync(path.join(dir, name));
      return true;
    } catch {
      return false;
    }
  };
  for (const source of ["/usr/bin", "/bin"]) {
    for (const name of readdirSync(source)) {
      if (!without.includes(name) && !taken(name)) symlinkSync(path.join(source, name), path.join(dir, name));
    }
  }
  return dir;
}

/**
 * `dir/name`, first in PATH, runs `before` (sh) and then the real `name` with the same arguments:
 * a tool that logs its calls, or misbehaves when told to. Returns dir.
 */
export function wrapCommand(dir: string, name: string, before: string): string {
  const real = execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name), `#!/bin/sh\n${before}\nexec ${real} "$@"\n`, { mode: 0o755 });
  return dir;
}

/** CPUs this process may use, as the hosts' scripts see them (`nproc`). */
export const cpus = (): number => Number(execFileSync("nproc", { encoding: "utf8" }).trim());
