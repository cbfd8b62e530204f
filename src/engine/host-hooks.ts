import type { Cmd } from "../shell/cmd.js";
import type { Emit } from "./events.js";
import type { Unit } from "./finalize.js";
import { runStep, timed } from "./steps.js";

/** Runs hooks as one step; returns the error instead of throwing, so callers decide what it means. */
export async function tryHooks(
  u: Unit,
  title: string,
  cmds: readonly Cmd[],
  emit: Emit,
): Promise<Error | undefined> {
  if (cmds.length === 0) return undefined;
  try {
    await timed(emit, u.t.host.name, title, () =>
      runStep({ executor: u.t.executor, emit, stream: true }, title, cmds),
    );
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
