import { spawn } from "node:child_process";
import type { Transfer } from "../plan/steps.js";
import { killGroupScript } from "../shell/cmd.js";
import { rsyncArgs } from "./rsync.js";
import { ShellSession } from "./session.js";
import { SessionExecutor } from "./session-executor.js";

/** A deploy path on this machine: one long-lived local `sh -s`, and rsync between local paths. */
export class LocalExecutor extends SessionExecutor {
  constructor(host: string, timeoutSeconds: number) {
    super(host, new ShellSession(host, "sh", ["-s"], killLocalGroup), timeoutSeconds);
  }

  protected rsyncArgs(t: Transfer): string[] {
    return rsyncArgs(t, t.to);
  }
}

/** A step's process group on this machine, stopped the same way as on a remote host. */
function killLocalGroup(pgid: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", killGroupScript(pgid)], { stdio: "ignore" });
    child.on("close", () => resolve());
    child.on("error", () => resolve());
  });
}
