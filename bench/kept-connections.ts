import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";

/**
 * For benchmarks with `ssh.persist`: kept connections' sockets go to a directory of the
 * benchmark's own (short: socket paths are limited), and can be closed between and after runs.
 */
export function keptConnections(persist: number): { close(): void; remove(): void } {
  if (persist > 0) process.env.XDG_CACHE_HOME = mkdtempSync("/tmp/cb-");
  const sockets = path.join(process.env.XDG_CACHE_HOME ?? "", "cutover", "ssh");
  const close = () => {
    if (persist === 0 || !existsSync(sockets)) return;
    for (const name of readdirSync(sockets))
      spawnSync("ssh", ["-o", `ControlPath=${path.join(sockets, name)}`, "-O", "exit", "host"], {
        stdio: "ignore",
      });
  };
  return {
    close,
    remove: () => {
      close();
      if (persist > 0) rmSync(process.env.XDG_CACHE_HOME!, { recursive: true, force: true });
    },
  };
}
