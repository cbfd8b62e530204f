import type { Cmd } from "../shell/cmd.js";
import type { Emit } from "./events.js";
import type { Unit } from "./finalize.js";
import { runStep, type StepContext, timed } from "./steps.js";

/** A hook command (`sh -c RUN`) as its failure names it: its text on one line, at most 80 characters. */
function hookText(c: Cmd): string {
  const text = (c.argv.at(-1) ?? "").replace(/\p{Cc}+/gu, " ").trim();
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 79)}…` : text);
}

/**
 * A hook's commands, one round trip each, their output streamed: a failure names the command that
 * failed (`build hook "composer install" failed (exit 1)`), not only the hook.
 */
export async function runHookCmds(ctx: StepContext, title: string, cmds: readonly Cmd[]): Promise<void> {
  for (const c of cmds) await runStep({ ...ctx, stream: true }, `${title} ${hookText(c)}`, [c]);
}

/** Runs hooks as one step; returns the error instead of throwing, so callers decide what it means. */
export async function tryHooks(
  u: Unit,
  title: string,
  cmds: readonly Cmd[],
  emit: Emit,
): Promise<Error | undefined> {
  if (cmds.length === 0) return undefined;
  try {
    await timed(emit, u.t.host.name, title, () => runHookCmds({ executor: u.t.executor, emit }, title, cmds));
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

/** Hooks whose failure must not change the outcome: a failure becomes a warning. */
export async function softHooks(u: Unit, title: string, cmds: readonly Cmd[], emit: Emit): Promise<string[]> {
  const error = await tryHooks(u, title, cmds, emit);
  if (!error) return [];
  emit({ type: "warning", host: u.t.host.name, message: error.message });
  return [error.message];
}
