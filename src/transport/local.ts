import type { Transfer } from "../plan/steps.js";
import { rsyncArgs } from "./rsync.js";
import { ShellSession } from "./session.js";
import { SessionExecutor } from "./session-executor.js";

/** A deploy path on this machine: one long-lived local `sh -s`, and rsync between local paths. */
export class LocalExecutor extends SessionExecutor {
  constructor(host: string, timeoutSeconds: number) {
    super(host, new ShellSession(host, "sh", ["-s"]), timeoutSeconds);
  }

  protected rsyncArgs(t: Transfer): string[] {
    return rsyncArgs(t, t.to);
  }
}
