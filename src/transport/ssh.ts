import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import type { SshAddress, SshSettings } from "../config/resolve.js";
import type { Transfer } from "../plan/steps.js";
import { killGroupScript } from "../shell/cmd.js";
import { TransportError } from "./executor.js";
import { rsyncArgs } from "./rsync.js";
import { ShellSession } from "./session.js";
import { SessionExecutor } from "./session-executor.js";
import { explainSsh, masterArgs, rsyncHost, rsyncShell, sideArgs } from "./ssh-args.js";

/**
 * A host over SSH: one OpenSSH connection for the whole run. Its first process (a remote `sh -s`
 * fed scripts on stdin) is the ControlMaster; rsync reuses it through the private ControlPath.
 * With `ssh.persist` the connection outlives the run and the next run's session reuses it.
 */
export class SshExecutor extends SessionExecutor {
  constructor(
    host: string,
    private readonly addr: SshAddress,
    private readonly settings: SshSettings,
    private readonly controlPath: string,
    timeoutSeconds: number,
  ) {
    super(
      host,
      new ShellSession(
        host,
        "ssh",
        masterArgs(addr, settings, controlPath),
        (pgid) => runBeside(sideArgs(addr, settings, controlPath), killGroupScript(pgid)),
        // A killed master leaves its socket behind; a new master could not bind it. A kept one
        // may serve other runs: OpenSSH itself replaces its socket once nothing answers there.
        () => {
          if (settings.persistSeconds === 0) rmSync(controlPath, { force: true });
        },
      ),
      timeoutSeconds,
    );
  }

  protected rsyncArgs(t: Transfer): string[] {
    return rsyncArgs(t, `${rsyncHost(this.addr)}:${t.to}`, [
      "-e",
      rsyncShell(this.addr, this.settings, this.controlPath),
    ]);
  }

  protected override explain(error: unknown): unknown {
    if (!(error instanceof TransportError)) return error;
    if (
      /command not found|rsync: not found|code 127/.test(error.stderr) &&
      error.message.startsWith("rsync")
    ) {
      return new TransportError(
        this.host,
        `rsync is not installed on ${this.addr.host} (or not in the login PATH); install it there (e.g. apt-get install rsync)`,
        error.stderr,
      );
    }
    const message = explainSsh(error.stderr, this.host, this.addr);
    return message ? new TransportError(this.host, message, error.stderr) : error;
  }
}

/**
 * One command on a second channel of the connection (or a new connection if the master is gone),
 * while the session waits on its step. Bounded: an unreachable host cannot hold an interrupt up.
 */
function runBeside(args: readonly string[], script: string): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn("ssh", [...args, script], { stdio: "ignore" });
    const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
    child.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
    child.on("error", () => resolve());
  });
}
