import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
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
  for (const source of ["/usr/bin", "/bin"]) {
    for (const name of readdirSync(source)) {
      if (!without.includes(name) && !existsSync(path.join(dir, name)))
        symlinkSync(path.join(source, name), path.join(dir, name));
    }
  }
  return dir;
}
