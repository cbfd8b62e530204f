import type { Layout } from "../plan/layout.js";
import { removeCurrent, switchTo } from "../plan/switch.js";
import type { Emit } from "./events.js";
import type { LockedTarget } from "./lock.js";
import { runStep, timed } from "./steps.js";

export interface SwitchOutcome {
  readonly target: LockedTarget;
  readonly ok: boolean;
  readonly at: number;
  readonly error?: Error;
}

/** Switches every host at once over the already-open sessions; reports each host's outcome. */
export async function switchAll(
  targets: readonly LockedTarget[],
  releaseOf: (t: LockedTarget) => string,
  emit: Emit,
): Promise<SwitchOutcome[]> {
  return Promise.all(
    targets.map(async (target) => {
      try {
        await timed(emit, target.host.name, "switch current", () =>
          runStep({ executor: target.executor, emit }, "switch current", [
            switchTo(target.layout, releaseOf(target)),
          ]),
        );
        return { target, ok: true, at: Date.now() };
      } catch (error) {
        return { target, ok: false, at: Date.now(), error: error as Error };
      }
    }),
  );
}

/** Puts `current` back where it was on hosts that had switched: the previous release, or no link at all. */
export async function switchBack(
  target: LockedTarget,
  switchedTo: string,
  previous: string | undefined,
  emit: Emit,
): Promise<boolean> {
  const l: Layout = target.layout;
  try {
    const cmds = previous ? [switchTo(l, previous)] : [removeCurrent(l, switchedTo)];
    await timed(emit, target.host.name, "switch back", () =>
      runStep({ executor: target.executor, emit }, "switch back", cmds),
    );
    return true;
  } catch (error) {
    emit({
      type: "warning",
      host: target.host.name,
      message: `could not switch back: ${(error as Error).message}`,
    });
    return false;
  }
}

export function skewMs(outcomes: readonly SwitchOutcome[]): number {
  const times = outcomes.filter((o) => o.ok).map((o) => o.at);
  return times.length > 1 ? Math.max(...times) - Math.min(...times) : 0;
}
