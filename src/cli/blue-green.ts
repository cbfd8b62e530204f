import { switchBack, switchBackDryRun } from "../engine/blue-green.js";
import type { PoolSwitch } from "../engine/pool-switch.js";
import { EXIT, type ExitCode } from "../errors.js";
import { type CommandContext, withSignals } from "./context.js";

/** One line for a switch of the balancer: where to, and how long until only the new pool answered. */
export function switchText(s: PoolSwitch): string {
  const measured =
    s.switchMs === null
      ? "not measured (set balancer.probe_url)"
      : `${s.switchMs} ms until ${s.confirm} requests in a row were served by ${s.to}`;
  return `balancer switched from ${s.from} to ${s.to} (${s.release}): ${measured}; ${s.from} stays warm for \`cutover switch-back\``;
}

export async function switchBackCommand(
  ctx: CommandContext,
  stageName: string | undefined,
): Promise<ExitCode> {
  const stage = ctx.stage(stageName);
  if (ctx.global.dryRun) {
    const plan = await switchBackDryRun(stage);
    ctx.print(
      `would switch the balancer from ${plan.from} to ${plan.to} (${plan.release})${stage.healthCheck ? `, after a health check of ${plan.to}` : ""}; nothing was changed`,
      { dryRun: true, ...plan },
    );
    return EXIT.ok;
  }
  const report = await withSignals((signal) =>
    switchBack({ stage, emit: ctx.emit, command: `cutover ${ctx.argv.join(" ")}`, signal }),
  );
  ctx.print(switchText(report), report);
  return EXIT.ok;
}
