import type { ExitCode } from "../errors.js";
import { adopt, cleanup, EXIT, unlock } from "../index.js";
import { type CommandContext, withSignals } from "./context.js";
import { hostList, seconds } from "./options.js";

export async function unlockCommand(
  ctx: CommandContext,
  stageName: string | undefined,
  opts: { force?: boolean; hosts?: string },
): Promise<ExitCode> {
  // A signal waits for the unlock to finish: it is short, and half of it would leave no record.
  const rows = await withSignals(() =>
    unlock(ctx.stage(stageName), { hosts: hostList(opts.hosts), force: opts.force, emit: ctx.emit }),
  );
  const human = rows
    .map((r) =>
      r.cleared
        ? `${r.host}: cleared the lock of ${r.holder}${r.stale ? " (stale)" : ""}`
        : `${r.host}: not locked`,
    )
    .join("\n");
  ctx.print(human, rows);
  return rows.some((r) => r.unrecorded) ? EXIT.degraded : EXIT.ok;
}

export async function cleanupCommand(
  ctx: CommandContext,
  stageName: string | undefined,
  opts: { hosts?: string; lockWait?: string },
): Promise<ExitCode> {
  const dryRun = ctx.global.dryRun ?? false;
  const rows = await withSignals((signal) =>
    cleanup(ctx.stage(stageName), {
      hosts: hostList(opts.hosts),
      emit: ctx.emit,
      command: `cutover ${ctx.argv.join(" ")}`,
      lockWaitSeconds: seconds(opts.lockWait, "--lock-wait"),
      signal,
      dryRun,
    }),
  );
  const verb = dryRun ? "would remove" : "removed";
  ctx.print(
    rows
      .flatMap((r) => [
        `${r.host}: ${r.removed.length > 0 ? `${verb} ${r.removed.join(", ")}` : "nothing to remove"}`,
        ...r.left.map((p) => `${r.host}: note: ${p}`),
      ])
      .join("\n"),
    rows,
  );
  return EXIT.ok;
}

export async function adoptCommand(
  ctx: CommandContext,
  stageName: string | undefined,
  opts: { hosts?: string; lockWait?: string; migrate?: boolean },
): Promise<ExitCode> {
  const dryRun = ctx.global.dryRun ?? false;
  const rows = await adopt(ctx.stage(stageName), {
    hosts: hostList(opts.hosts),
    emit: ctx.emit,
    command: `cutover ${ctx.argv.join(" ")}`,
    lockWaitSeconds: seconds(opts.lockWait, "--lock-wait"),
    migrate: opts.migrate,
    dryRun,
  });
  const verb = dryRun ? "would adopt" : "adopted";
  ctx.print(
    rows
      .flatMap((r) => [
        `${r.host}: ${r.adopted.length > 0 ? `${verb} ${r.adopted.join(", ")} (made by ${r.tool})` : "nothing to adopt"}`,
        ...(r.migrated
          ? [
              `${r.host}: current ${dryRun ? "would become" : "is now"} a link to releases/${r.migrated} (the old directory: current.before-cutover)`,
            ]
          : []),
        ...r.linked.map(
          (p) =>
            `${r.host}: shared/${p} ${dryRun ? "would link" : "links"} to ${p} in the deploy path (kept where it is)`,
        ),
        ...(r.movedLeftover
          ? [
              `${r.host}: the old current directory a killed adopt --migrate left in .cutover/tmp/migrate ${dryRun ? "would become" : "is now"} current.before-cutover`,
            ]
          : []),
        ...r.failed.map(
          (id) =>
            `${r.host}: note: ${id} is newer than the live release, so it never went live: recorded failed (no rollback target; cleanup removes it)`,
        ),
        ...r.skipped.map(
          (n) => `${r.host}: note: releases/${JSON.stringify(n)} is not a name cutover can adopt; left alone`,
        ),
      ])
      .join("\n"),
    rows,
  );
  return EXIT.ok;
}
