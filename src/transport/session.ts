import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { sessionInput, stepGroupMarker } from "../shell/cmd.js";
import type { RunOptions, RunResult } from "./executor.js";
import { TransportError } from "./executor.js";

/**
 * One long-lived `sh -s` (local, or at the far end of ssh) fed scripts on stdin, so a deploy pays
 * for one shell per host instead of one per command. After each script the shell prints an end
 * marker with a per-run nonce and the exit code on stdout, and a marker on stderr, so we know where
 * each stream of that script ends.
 */
/** Spawn errors by session process (a process whose start failed has no pid). */
const startFailures = new WeakMap<ChildProcessWithoutNullStreams, Error>();

export class ShellSession {
  private child: ChildProcessWithoutNullStreams | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** The process group of the script running now, on the far side. */
  private stepGroup: number | undefined;
  private stepDone: Promise<unknown> = Promise.resolve();
  private stepRunning = false;
  /** Interrupts waiting for the running step to name its process group. */
  private groupKnown: (() => void)[] = [];

  constructor(
    private readonly host: string,
    private readonly command: string,
    private readonly args: readonly string[],
    /** Stops a process group on the far side (the session itself is busy waiting for it). */
    private readonly killGroup: (pgid: number) => Promise<void>,
    /** Runs before each (re)start, e.g. to remove a control socket a killed process left behind. */
    private readonly beforeStart: () => void = () => undefined,
  ) {}

  /** Runs one script (see sessionInput); `timeoutSeconds` is enforced on the far side. */
  run(script: string, timeoutSeconds: number, options: RunOptions = {}): Promise<RunResult> {
    const next = this.queue.then(() => this.runNow(script, timeoutSeconds, options));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Starts the process (for SSH: opens the connection) before the first script is sent. */
  connect(): void {
    this.start();
  }

  /**
   * Stops the running script on the far side: its whole process group (hooks, builds and all they
   * started), so nothing keeps running there once this resolves. The session lives on for the
   * steps that record what happened. If the far side does not answer, the session is killed.
   */
  async interrupt(): Promise<void> {
    // A step just sent may not have named its process group yet: wait for that (or for its end).
    if (this.stepGroup === undefined && this.stepRunning)
      await new Promise<void>((resolve) => this.groupKnown.push(resolve));
    const group = this.stepGroup;
    if (group === undefined) return;
    const done = this.stepDone;
    const ended = await Promise.race([
      this.killGroup(group).then(() => withTimeout(done, 5000)),
      delay(15000).then(() => false),
    ]).catch(() => false);
    if (!ended) this.kill();
  }

  private wakeInterrupts(): void {
    const waiting = this.groupKnown;
    this.groupKnown = [];
    for (const wake of waiting) wake();
  }

  /** Kills the session process itself (for SSH: drops the connection); the next run starts afresh. */
  private kill(): void {
    const child = this.child;
    this.child = undefined;
    if (child?.pid !== undefined && child.exitCode === null) killGroup(child.pid);
  }

  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("close", () => resolve());
      child.stdin.end();
      setTimeout(() => {
        if (child.pid !== undefined && child.exitCode === null) killGroup(child.pid);
      }, 5000).unref();
    });
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.child && this.child.exitCode === null && !this.child.killed) return this.child;
    this.beforeStart();
    // Own process group: a terminal's Ctrl-C reaches cutover, which then decides what to stop.
    const child = spawn(this.command, [...this.args], { stdio: "pipe", detached: true });
    // Heard first: a spawn that fails (no such program here, no descriptors left) says so on the
    // next tick, maybe with no pipes made; unheard, it would end cutover with a stack trace.
    child.on("error", (e) => {
      if (child.pid === undefined) startFailures.set(child, e);
    });
    child.stdin?.on("error", () => undefined);
    this.child = child;
    return child;
  }

  /** Why the session process could not start, in words; undefined if it started. */
  private startFailure(child: ChildProcessWithoutNullStreams): string | undefined {
    const e = startFailures.get(child);
    if (!e && child.stdin && child.stdout && child.stderr) return undefined;
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    if (code === "ENOENT")
      return `${this.command} is not installed on this machine (or not in PATH): install it (e.g. apt-get install ${this.command === "ssh" ? "openssh-client" : this.command})`;
    return `cannot start ${this.command} here: ${e?.message ?? "its pipes could not be made (too many open files?)"}`;
  }

  private runNow(script: string, timeoutSeconds: number, options: RunOptions): Promise<RunResult> {
    const child = this.start();
    if (!child.stdin || !child.stdout || !child.stderr) {
      this.child = undefined;
      return Promise.reject(new TransportError(this.host, this.startFailure(child)!, ""));
    }
    const nonce = randomBytes(8).toString("hex");
    const marker = `__CUTOVER_END_${nonce}`;
    const outMarker = Buffer.from(`\n${marker} `);
    const errMarker = `\n${marker}\n`;
    const groupLine = new RegExp(`\n${stepGroupMarker(nonce)} (\\d+)\n`);

    this.stepRunning = true;
    const step = new Promise<RunResult>((resolve, reject) => {
      let out = Buffer.alloc(0);
      let err = "";
      let code: number | undefined;
      let errDone = false;
      const lines = { stdout: "", stderr: "" };
      let timer: NodeJS.Timeout | undefined;

      const emitLines = (stream: "stdout" | "stderr", text: string, flush: boolean) => {
        if (!options.onLine) return;
        const parts = (lines[stream] + text).split("\n");
        lines[stream] = flush ? "" : parts.pop()!;
        for (const line of parts)
          if (line !== "" && !line.startsWith("__CUTOVER_")) options.onLine(stream, line);
      };
      const finish = () => {
        if (code === undefined || !errDone) return;
        cleanup();
        resolve({ code, stdout: out, stderr: err });
      };
      // Chunks are kept apart until the end marker is seen: joining a large listing chunk by
      // chunk would copy it over and over. The marker is looked for in the tail only.
      const chunks: Buffer[] = [];
      let received = 0;
      let tail = Buffer.alloc(0);
      const onOut = (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        if (options.onLine) emitLines("stdout", chunk.toString("utf8"), false);
        const keep = tail.subarray(Math.max(0, tail.length - outMarker.length - 24));
        tail = Buffer.concat([keep, chunk]);
        const at = tail.indexOf(outMarker);
        if (at < 0) return;
        const end = tail.indexOf(10, at + outMarker.length);
        if (end < 0) return;
        code = Number(tail.subarray(at + outMarker.length, end).toString());
        out = Buffer.concat(chunks, received).subarray(0, received - tail.length + at);
        emitLines("stdout", "", true);
        finish();
      };
      const onErr = (chunk: Buffer) => {
        const text = chunk.toString("utf8");
        err += text;
        emitLines("stderr", text, false);
        if (this.stepGroup === undefined) {
          const m = groupLine.exec(err);
          if (m) {
            this.stepGroup = Number(m[1]);
            this.wakeInterrupts();
            err = err.slice(0, m.index) + (m.index > 0 ? "\n" : "") + err.slice(m.index + m[0].length);
          }
        }
        const at = err.indexOf(errMarker);
        if (at < 0) return;
        err = err.slice(0, at);
        errDone = true;
        emitLines("stderr", "", true);
        finish();
      };
      const onClose = (exitCode: number | null, signal: NodeJS.Signals | null) => {
        cleanup();
        if (this.child === child) this.child = undefined;
        const failed = this.startFailure(child);
        const why = signal ? `killed by ${signal}` : `exited with code ${exitCode}`;
        reject(new TransportError(this.host, failed ?? `the shell session ended (${why})`, err));
      };
      const cleanup = () => {
        this.stepGroup = undefined;
        this.stepRunning = false;
        this.wakeInterrupts();
        if (timer) clearTimeout(timer);
        child.stdout.off("data", onOut);
        child.stderr.off("data", onErr);
        child.off("close", onClose);
      };
      child.stdout.on("data", onOut);
      child.stderr.on("data", onErr);
      child.once("close", onClose);
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          cleanup();
          this.kill();
          reject(
            new TransportError(
              this.host,
              `timed out after ${Math.round(options.timeoutMs! / 1000)} s; the command was killed`,
              err,
            ),
          );
        }, options.timeoutMs);
      }
      child.stdin.write(sessionInput(script, nonce, timeoutSeconds));
    });
    this.stepDone = step.catch(() => undefined);
    return step;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** True if `work` settles within `ms`. */
function withTimeout(work: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([work.then(() => true), delay(ms).then(() => false)]);
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}
