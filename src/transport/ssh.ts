import { rmSync } from "node:fs";
import type { SshAddress, SshSettings } from "../config/resolve.js";
import type { Transfer } from "../plan/steps.js";
import type { Cmd } from "../shell/cmd.js";
import { renderScript } from "../shell/cmd.js";
import type { Executor, RunOptions, RunResult, TransferStats } from "./executor.js";
import { TransportError } from "./executor.js";
import { rsyncArgs, runRsync } from "./rsync.js";
import { ShellSession } from "./session.js";
import { explainSsh, masterArgs, rsyncHost, rsyncShell } from "./ssh-args.js";

/**
 * A host over SSH: one OpenSSH connection for the whole run. Its first process (a remote `sh -s`
 * fed scripts on stdin) is the ControlMaster; rsync reuses it through the private ControlPath.
 */
export class SshExecutor implements Executor {
  private readonly session: ShellSession;
  private transfers = new AbortController();

  constructor(
    readonly host: string,
    private readonly addr: SshAddress,
    private readonly settings: SshSettings,
    private readonly controlPath: string,
    private readonly timeoutSeconds: number,
  ) {
    this.session = new ShellSession(host, "ssh", masterArgs(addr, settings, controlPath), () =>
      rmSync(controlPath, { force: true }),
    );
  }

  /** How many SSH connections this executor opened (1 unless one was lost or interrupted). */
  get connections(): number {
    return this.session.starts;
  }

  async run(cmds: readonly Cmd[], options?: RunOptions): Promise<RunResult> {
    try {
      // The remote `timeout` kills the remote work; this local limit only catches a silent connection.
      return await this.session.run(renderScript(cmds), this.timeoutSeconds, {
        ...options,
        timeoutMs: (this.timeoutSeconds + 15) * 1000,
      });
    } catch (error) {
      throw this.explain(error);
    }
  }

  async transfer(t: Transfer, options?: RunOptions): Promise<TransferStats> {
    const args = rsyncArgs(t, `${rsyncHost(this.addr)}:${t.to}`, [
      "-e",
      rsyncShell(this.addr, this.settings, this.controlPath),
    ]);
    try {
      return await runRsync(this.host, args, {
        ...options,
        signal: this.transfers.signal,
        timeoutMs: this.timeoutSeconds * 1000,
      });
    } catch (error) {
      if (
        error instanceof TransportError &&
        /command not found|rsync: not found|code 127/.test(error.stderr)
      ) {
        return Promise.reject(
          new TransportError(
            this.host,
            `rsync is not installed on ${this.addr.host} (or not in the login PATH); install it there (e.g. apt-get install rsync)`,
            error.stderr,
          ),
        );
      }
      throw this.explain(error);
    }
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

  private explain(error: unknown): unknown {
    if (!(error instanceof TransportError)) return error;
    const message = explainSsh(error.stderr, this.host, this.addr);
    return message ? new TransportError(this.host, message, error.stderr) : error;
  }
}
