import type { Command } from "commander";
import type { ExitCode } from "../errors.js";
import type { CommandContext } from "./context.js";

type Actions = typeof import("./snapshot-actions.js");
type Run = (action: (ctx: CommandContext) => Promise<ExitCode>) => () => Promise<void>;

/** `cutover snapshot create | list | restore ID | prune`; the handlers load when one runs. */
export function addSnapshotCommands(program: Command, run: Run): void {
  const act = (pick: (a: Actions, ctx: CommandContext) => Promise<ExitCode>) =>
    run(async (ctx) => pick(await import("./snapshot-actions.js"), ctx))();
  const group = program
    .command("snapshot")
    .description("hard-link snapshots of DEPLOY_PATH/shared: create, list, restore ID, prune");
  const hosts = (c: Command) => c.option("--hosts <names>", "only these hosts (comma-separated names)");
  const locking = (c: Command) =>
    hosts(c).option("--lock-wait <seconds>", "wait this long for another run's lock instead of failing");

  locking(group.command("create [stage]"))
    .description("snapshot shared/ on every host (unchanged files hard-linked to the previous snapshot)")
    .action((stage, opts) => act((a, ctx) => a.snapshotCreate(ctx, stage, opts)));
  hosts(group.command("list [stage]"))
    .description("every snapshot with its state on each host, newest first")
    .action((stage, opts) => act((a, ctx) => a.snapshotList(ctx, stage, opts)));
  locking(group.command("restore <id> [stage]"))
    .description("put shared/ back as snapshot ID was (the live shared/ is snapshotted first)")
    .action((id, stage, opts) => act((a, ctx) => a.snapshotRestore(ctx, id, stage, opts)));
  locking(group.command("prune [stage]"))
    .description("remove partial snapshots and complete ones beyond snapshots.keep")
    .action((stage, opts) => act((a, ctx) => a.snapshotPrune(ctx, stage, opts)));
}
