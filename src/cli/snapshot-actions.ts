import { createSnapshots, listSnapshots, pruneSnapshots, restoreSnapshots } from "../engine/snapshots.js";
import { EXIT, type ExitCode, usageError } from "../errors.js";
import { isIdShaped } from "../plan/release-id.js";
import { snapshotRowsText, snapshotTable } from "../report/snapshot-text.js";
import { type CommandContext, withSignals } from "./context.js";
import { hostList, seconds } from "./options.js";

export interface SnapshotOpts {
  readonly hosts?: string;
  readonly lockWait?: string;
}

function options(ctx: CommandContext, opts: SnapshotOpts) {
  return {
    hosts: hostList(opts.hosts),
    emit: ctx.emit,
    command: `cutover ${ctx.argv.join(" ")}`,
    lockWaitSeconds: seconds(opts.lockWait, "--lock-wait"),
    dryRun: ctx.global.dryRun ?? false,
  };
}

export async function snapshotCreate(
  ctx: CommandContext,
  stage: string | undefined,
  opts: SnapshotOpts,
): Promise<ExitCode> {
  const o = options(ctx, opts);
  const rows = await withSignals((signal) => createSnapshots(ctx.stage(stage), { ...o, signal }));
  ctx.print(snapshotRowsText("create", rows), rows);
  return EXIT.ok;
}

export async function snapshotList(
  ctx: CommandContext,
  stage: string | undefined,
  opts: SnapshotOpts,
): Promise<ExitCode> {
  const rows = await listSnapshots(ctx.stage(stage), hostList(opts.hosts), ctx.emit);
  ctx.print(snapshotTable(rows), rows);
  return EXIT.ok;
}

export async function snapshotRestore(
  ctx: CommandContext,
  id: string,
  stage: string | undefined,
  opts: SnapshotOpts,
): Promise<ExitCode> {
  if (!isIdShaped(id))
    throw usageError(`snapshot restore: "${id}" is not a snapshot id`, "`cutover snapshot list` shows them");
  const o = options(ctx, opts);
  const rows = await withSignals((signal) => restoreSnapshots(ctx.stage(stage), id, { ...o, signal }));
  ctx.print(snapshotRowsText("restore", rows), rows);
  return EXIT.ok;
}

export async function snapshotPrune(
  ctx: CommandContext,
  stage: string | undefined,
  opts: SnapshotOpts,
): Promise<ExitCode> {
  const o = options(ctx, opts);
  const rows = await withSignals((signal) => pruneSnapshots(ctx.stage(stage), { ...o, signal }));
  if (o.dryRun) {
    // What it would remove, as `cleanup --dry-run` says it, rather than the removal's script.
    const planned = rows.map((r) => ({ host: r.host, removed: r.removed ?? [] }));
    const text = planned.map((r) =>
      r.removed.length > 0
        ? `${r.host}: would remove ${r.removed.join(", ")}`
        : `${r.host}: nothing to remove`,
    );
    ctx.print(text.join("\n"), planned);
    return EXIT.ok;
  }
  ctx.print(snapshotRowsText("prune", rows), rows);
  return EXIT.ok;
}
