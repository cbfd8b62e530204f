import { readRevisionLog } from "../engine/revision-log.js";
import { EXIT, type ExitCode } from "../errors.js";
import { logTable } from "../report/log-text.js";
import type { CommandContext } from "./context.js";
import { hostList, positiveInt } from "./options.js";

/** `cutover log [stage] [--limit N]`: who put which commit up (or rolled back to it), when, and how it ended. */
export async function logCommand(
  ctx: CommandContext,
  stageName: string | undefined,
  opts: { limit: string; hosts?: string },
): Promise<ExitCode> {
  const limit = positiveInt(opts.limit, "--limit", 20);
  const rows = await readRevisionLog(ctx.stage(stageName), limit, hostList(opts.hosts), ctx.emit);
  ctx.print(logTable(rows), rows);
  return EXIT.ok;
}
