import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { BIN } from "./cli.js";

/** Pids of processes whose command line contains `marker` (read from /proc, never matched by process name). */
export function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmdline.includes(marker) && !cmdline.includes("cutover.js")) out.push(Number(entry));
    } catch {
      // ended while we looked
    }
  }
  return out;
}

/** Sends `signal` to each PID; one that ended between its listing and the kill is no error. */
export function killEach(pids: readonly number[], signal: NodeJS.Signals = "SIGKILL"): number {
  let sent = 0;
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
      sent += 1;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
    }
  }
  return sent;
}

/**
 * Runs the CLI and sends it `signal` as soon as a process with `marker` in its command line runs
 * (a hook or step the test planted in the phase it wants to interrupt), or, given a function, as
 * soon as it returns true. Bounded: gives up after 60 s.
 */
export function interruptWhen(
  args: readonly string[],
  cwd: string,
  marker: string | (() => boolean),
  signal: NodeJS.Signals = "SIGTERM",
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string; stdout: string; sent: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    let stderr = "";
    let stdout = "";
    let sent = false;
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    const started = Date.now();
    const poll = setInterval(() => {
      const ready = typeof marker === "string" ? processesWith(marker).length > 0 : marker();
      if (!sent && ready) {
        sent = true;
        child.kill(signal);
      }
      if (Date.now() - started > 60_000) child.kill("SIGKILL");
    }, 25);
    child.on("close", (code) => {
      clearInterval(poll);
      resolve({ code, stderr, stdout, sent });
    });
  });
}

/** Waits until no process with `marker` runs (up to `ms`); returns those still running. */
export async function settled(marker: string, ms = 2000): Promise<number[]> {
  const deadline = Date.now() + ms;
  while (processesWith(marker).length > 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  return processesWith(marker);
}
