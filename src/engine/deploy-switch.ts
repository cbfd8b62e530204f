import type { ResolvedStage } from "../config/resolve.js";
import type { HostDeployPlan } from "../plan/deploy.js";
import { hookCmds } from "../plan/hooks.js";
import type { Emit } from "./events.js";
import { tryHooks } from "./finalize.js";
import type { LockedTarget } from "./lock.js";
import type { HostOutcome } from "./outcome.js";
import { resetAndVerify } from "./php-runtime.js";
import { type BatchHooks, type SwitchOutcome, switchAll, switchBack } from "./switch.js";

/** The deploy's switch phase: every host at once, or rolling batches; and its undo. */
export async function switchTogether(locked: readonly LockedTarget[], release: string, emit: Emit) {
  const outcomes = await switchAll(locked, release, emit);
  return { outcomes, error: outcomes.find((o) => !o.ok)?.error };
}

/** Every host that switched goes back to its previous release; reports what each host serves now. */
export async function switchBackAll(
  locked: readonly LockedTarget[],
  outcomes: readonly SwitchOutcome[],
  planOf: (t: LockedTarget) => HostDeployPlan,
  release: string,
  emit: Emit,
  stage: ResolvedStage,
): Promise<HostOutcome[]> {
  emit({ type: "phase", phase: "switching back the hosts that switched" });
  return Promise.all(
    locked.map(async (t): Promise<HostOutcome> => {
      const previous = planOf(t).previous ?? null;
      const switched = outcomes.some((o) => o.target === t && o.ok);
      if (!switched) return { host: t.host.name, state: "unchanged", serving: previous };
      const back = await switchBack(t, release, previous ?? undefined, emit);
      if (back && previous) {
        await resetAndVerify(t, stage, previous, emit).catch((e: Error) =>
          emit({ type: "warning", host: t.host.name, message: e.message }),
        );
      }
      return { host: t.host.name, state: "switched-back", serving: back ? previous : release };
    }),
  );
}

export function batchHooks(
  planOf: (t: LockedTarget) => HostDeployPlan,
  release: string,
  emit: Emit,
): BatchHooks {
  return {
    run: async (group, hook, batch) => {
      const env = {
        CUTOVER_BATCH: String(batch),
        CUTOVER_BATCH_HOSTS: group.map((t) => t.host.name).join(","),
      };
      const errors = await Promise.all(
        group.map((t) =>
          tryHooks(
            t,
            `${hook} hook`,
            hookCmds({ ...planOf(t).hooks, extraEnv: env }, hook, t.layout.release(release)),
            emit,
          ),
        ),
      );
      return errors.find((e) => e !== undefined);
    },
  };
}
