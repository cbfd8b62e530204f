import type { Transfer } from "../plan/steps.js";
import { type Cmd, renderScript } from "../shell/cmd.js";
import type { Executor, RunOptions, RunResult, TransferStats } from "./executor.js";
import { runRsync } from "./rsync.js";
import type { ShellSession } from "./session.js";

/**
 * What local and SSH targets share: one long-lived shell session for commands, rsync for files,
 * and one interrupt that stops both. Subclasses say how to reach the target.
 */
export abstract class SessionExecutor implements Executor {
  private transfers = new AbortController();

  protected constructor(
    readonly host: string,
    protected readonly session: ShellSession,
    protected readonly timeoutSeconds: number,
  ) {}

  /** rsync argv for a transfer to this target. */
  protected abstract rsyncArgs(t: Transfer): string[];

  /** A transport error as the user should read it. */
  protected explain(error: unknown): unknown {
    return error;
  }

  async run(cmds: readonly Cmd[], options?: RunOptions): Promise<RunResult> {
    try {
      // The far side's `timeout` kills the work (its process group, the one an interrupt kills too);
      // this local limit only catches a silent connection.
      const limit = options?.timeoutSeconds ?? this.timeoutSeconds;
      return await this.session.run(renderScript(cmds), limit, {
        ...options,
        timeoutMs: (limit + 15) * 1000,
      });
    } catch (error) {
      throw this.explain(error);
    }
  }

  async transfer(t: Transfer, options?: RunOptions): Promise<TransferStats> {
    try {
      return await runRsync(this.host, this.rsyncArgs(t), {
        ...options,
        signal: this.transfers.signal,
        timeoutMs: this.timeoutSeconds * 1000,
      });
    } catch (error) {
      throw this.explain(error);
    }
  }

  connect(): void {
    this.session.connect();
  }

  interrupt(): Promise<void> {
    this.transfers.abort();
    this.transfers = new AbortController();
    return this.session.interrupt();
  }

  close(): Promise<void> {
    return this.session.close();
  }
}
