import type { Transfer } from "../plan/steps.js";
import type { Cmd } from "../shell/cmd.js";
import { renderScript } from "../shell/cmd.js";
import type { Executor, RunOptions, RunResult, TransferStats } from "./executor.js";
import { rsyncArgs, runRsync } from "./rsync.js";
import { ShellSession } from "./session.js";

/** A deploy path on this machine: one long-lived local `sh -s`, and rsync between local paths. */
export class LocalExecutor implements Executor {
  private readonly session: ShellSession;
  private transfers = new AbortController();

  constructor(
    readonly host: string,
    private readonly timeoutSeconds: number,
  ) {
    this.session = new ShellSession(host, "sh", ["-s"]);
  }

  run(cmds: readonly Cmd[], options?: RunOptions): Promise<RunResult> {
    return this.session.run(renderScript(cmds), this.timeoutSeconds, options);
  }

  transfer(t: Transfer, options?: RunOptions): Promise<TransferStats> {
    return runRsync(this.host, rsyncArgs(t, t.to), { ...options, signal: this.transfers.signal });
  }

  connect(): void {
    this.session.connect();
  }

  interrupt(): void {
    this.transfers.abort();
    this.transfers = new AbortController();
    this.session.interrupt();
  }

  close(): Promise<void> {
    return this.session.close();
  }
}
