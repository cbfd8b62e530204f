import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, realpathSync } from "node:fs";
import path from "node:path";
import { BIN } from "./cli.js";

export type LogLine = { event: string; level: string; [key: string]: unknown };

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly lines: LogLine[];
  /** Lines that were not JSON (there must be none). */
  readonly other: string[];
  waitFor(match: (l: LogLine) => boolean, timeoutMs?: number, from?: number): Promise<LogLine>;
  status(): Promise<Record<string, unknown>>;
  /** Sends `signal` (by PID) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `cutover agent` as a user starts it, on a free port of 127.0.0.1; its JSON log lines are collected. */
export async function startAgent(
  config: string,
  cwd: string,
  env: Record<string, string> = {},
  args: readonly string[] = [],
): Promise<AgentProcess> {
  const child = spawn(process.execPath, [BIN, "-c", config, "agent", "--port", "0", ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1", ...env },
  });
  const lines: LogLine[] = [];
  const other: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = "";
    stream.on("data", (c: Buffer) => {
      rest += c.toString();
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const text of parts) {
        try {
          lines.push(JSON.parse(text) as LogLine);
        } catch {
          other.push(text);
        }
      }
    });
  }
  const waitFor = async (match: (l: LogLine) => boolean, timeoutMs = 30_000, from = 0) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.slice(from).find(match);
      if (found) return found;
      if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `no matching log line in ${timeoutMs} ms:\n${[...lines.map((l) => JSON.stringify(l)), ...other].join("\n")}`,
        );
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const started = await waitFor((l) => l.event === "agent.started", 15_000);
  const url = `http://${started.listen as string}`;
  return {
    child,
    url,
    lines,
    other,
    waitFor,
    status: async () => (await fetch(`${url}/status`)).json() as Promise<Record<string, unknown>>,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal);
      return exited;
    },
  };
}

/** The commit of the release `current` points to, from its metadata (null when there is none). */
export function liveCommit(deployPath: string): string | null {
  try {
    const id = path.basename(realpathSync(path.join(deployPath, "current")));
    const meta = JSON.parse(readFileSync(path.join(deployPath, ".cutover/releases", `${id}.json`), "utf8"));
    return meta.revision?.commit ?? null;
  } catch {
    return null;
  }
}

/** Waits until `check` holds; how long that took. */
export async function until(check: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - started;
}
