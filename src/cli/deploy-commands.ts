import { deploy } from "../engine/deploy.js";
import { dryRunDeploy, dryRunRollback } from "../engine/dry-run.js";
import type { PoolSwitch } from "../engine/pool-switch.js";
import { rollback } from "../engine/rollback.js";
import { EXIT, type ExitCode } from "../errors.js";
import { probeText } from "../probe/report.js";
import { planJson, planText } from "../report/plan-text.js";
import { deploySummary } from "../report/summary.js";
import { withTimings } from "../report/timings.js";
import { type CommandContext, withSignals } from "./context.js";
import { hostList, positiveInt, seconds } from "./options.js";

/** deploy and rollback: their own module, so they load without the other commands' code. */
export async function deployCommand(
  ctx: CommandContext,
  stageName: string | undefined,
  opts: {
    hosts?: string;
    lockWait?: string;
    parallel?: string;
    probe?: string;
    probeConcurrency?: string;
    force?: boolean;
    timings?: boolean;
    ref?: string;
  },
): Promise<ExitCode> {
  const stage = ctx.stage(stageName);
  const hosts = hostList(opts.hosts);
  const parallel = positiveInt(opts.parallel, "--parallel", undefined);
  // Blue-green's code loads only for its stages (it brings Node's http, to measure the switch).
  const blueGreen = stage.blueGreen ? await import("../engine/blue-green.js") : undefined;
  // Checked before a dry run too: it shows the plan of the command as written.
  const lockWaitSeconds = seconds(opts.lockWait, "--lock-wait");
  const probeUrl = opts.probe ?? stage.probe?.url;
  const concurrency = positiveInt(
    opts.probeConcurrency,
    "--probe-concurrency",
    stage.probe?.concurrency ?? 16,
  );
  if (ctx.global.dryRun) {
    const dry = await dryRunDeploy(blueGreen ? await blueGreen.idlePoolStage(stage) : stage, hosts, opts.ref);
    ctx.print(planText(dry), planJson(dry));
    return EXIT.ok;
  }
  const timed = withTimings(opts.timings, ctx.emit);
  const run = blueGreen?.blueGreenDeploy ?? deploy;
  const result = await withSignals((signal) =>
    run({
      stage,
      hosts,
      lockWaitSeconds,
      parallel,
      force: opts.force,
      emit: timed.emit,
      ref: opts.ref,
      resolvedRefs: ctx.resolvedRefs,
      signal,
      command: `cutover ${ctx.argv.join(" ")}`,
      probe: probeUrl ? { url: probeUrl, concurrency } : undefined,
    }),
  );
  const poolSwitch = "switch" in result && result.switch ? (result.switch as PoolSwitch) : undefined;
  const text = [
    deploySummary("deploy", result),
    ...(result.probe ? [probeText(result.probe)] : []),
    ...(poolSwitch ? [(await import("./blue-green.js")).switchText(poolSwitch)] : []),
  ].join("\n");
  ctx.print(...timed.print(text, result));
  ctx.failed(result);
  return result.exitCode;
}

export async function rollbackCommand(
  ctx: CommandContext,
  stageName: string | undefined,
  opts: {
    to?: string;
    force?: boolean;
    hosts?: string;
    lockWait?: string;
    restoreShared?: boolean;
    timings?: boolean;
    verify?: boolean;
  },
): Promise<ExitCode> {
  const stage = ctx.stage(stageName);
  const hosts = hostList(opts.hosts);
  const lockWaitSeconds = seconds(opts.lockWait, "--lock-wait");
  if (ctx.global.dryRun) {
    const dry = await dryRunRollback(stage, {
      hosts,
      to: opts.to,
      force: opts.force,
      restoreShared: opts.restoreShared,
      verify: opts.verify,
    });
    ctx.print(planText(dry), planJson(dry));
    return EXIT.ok;
  }
  const timed = withTimings(opts.timings, ctx.emit);
  const result = await withSignals((signal) =>
    rollback({
      stage,
      hosts,
      to: opts.to,
      force: opts.force,
      restoreShared: opts.restoreShared,
      verify: opts.verify,
      lockWaitSeconds,
      emit: timed.emit,
      signal,
      command: `cutover ${ctx.argv.join(" ")}`,
    }),
  );
  ctx.print(...timed.print(deploySummary("rollback", result), result));
  ctx.failed(result);
  return result.exitCode;
}
