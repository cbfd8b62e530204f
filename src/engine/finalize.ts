import type { ResolvedStage } from "../config/resolve.js";
import type { HostDeployPlan } from "../plan/deploy.js";
import { hookCmds, hookEnv } from "../plan/deploy.js";
import { afterCleanup } from "../plan/reconcile.js";
import { appendHistory, type HistoryEntry, removeRelease, writeMeta } from "../plan/records.js";
import type { ReleaseMeta } from "../plan/release-meta.js";
import { selectPrune } from "../plan/select.js";
import { cmd } from "../shell/cmd.js";
import type { Emit } from "./events.js";
import type { LockedTarget } from "./lock.js";
import { runStep, timed } from "./steps.js";

export function historyEntry(
  event: HistoryEntry["event"],
  t: LockedTarget,
  meta: ReleaseMeta,
  previous: string | undefined,
  outcome: HistoryEntry["outcome"],
  reason: string | null,
  started: Date,
): HistoryEntry {
  return {
    event,
    outcome,
    stage: meta.stage,
    host: t.host.name,
    release: meta.id,
    previous: previous ?? null,
    revision: meta.revision ? `${meta.revision.commit}${meta.revision.dirty ? "+dirty" : ""}` : null,
    who: meta.who,
    at: new Date().toISOString(),
    duration_ms: Date.now() - started.getTime(),
    reason,
  };
}

/** Runs hooks whose failure must not change the outcome; returns warnings instead. */
export async function softHooks(
  t: LockedTarget,
  title: string,
  cmds: ReturnType<typeof hookCmds>,
  emit: Emit,
): Promise<string[]> {
  if (cmds.length === 0) return [];
  try {
    await timed(emit, t.host.name, title, () =>
      runStep({ executor: t.executor, emit, stream: true }, title, cmds),
    );
    return [];
  } catch (error) {
    const message = `${(error as Error).message}`;
    emit({ type: "warning", host: t.host.name, message });
    return [message];
  }
}

/** A deploy that did not go live on this host: hooks, metadata, history; the release's files go. */
export async function recordFailure(
  t: LockedTarget,
  plan: HostDeployPlan,
  stage: ResolvedStage,
  meta: ReleaseMeta,
  reason: string,
  emit: Emit,
  started: Date,
): Promise<void> {
  const l = t.layout;
  const rel = l.release(plan.releaseId);
  const env = hookEnv(stage, l, plan.releaseId, plan.previous);
  await softHooks(t, "on_failure hook", hookCmds(stage, "on_failure", l.root, env), emit);
  const failed: ReleaseMeta = { ...meta, state: "failed", finished_at: new Date().toISOString(), reason };
  const outcome = /interrupted/.test(reason) ? "aborted" : "failed";
  try {
    await runStep({ executor: t.executor, emit }, "record failure", [
      cmd(["rm", "-rf", "--", rel]),
      ...writeMeta(l, failed),
      appendHistory(l, historyEntry("deploy", t, failed, plan.previous, outcome, reason, started)),
    ]);
  } catch (error) {
    emit({
      type: "warning",
      host: t.host.name,
      message: `could not record the failure: ${(error as Error).message}`,
    });
  }
}

/** After a successful switch: states, history, after_switch hooks, pruning. Returns warnings. */
export async function afterSwitch(
  t: LockedTarget,
  plan: HostDeployPlan,
  stage: ResolvedStage,
  prepared: ReleaseMeta,
  emit: Emit,
  started: Date,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const l = t.layout;
  const live: ReleaseMeta = { ...prepared, state: "live", finished_at: new Date().toISOString() };
  const before = afterCleanup(t.facts, plan.leftovers);
  const previousMeta = plan.previous ? before.metas.get(plan.previous) : undefined;
  const superseded = previousMeta ? [{ ...previousMeta, state: "superseded" as const }] : [];
  try {
    await runStep({ executor: t.executor, emit }, "record release", [
      ...writeMeta(l, live),
      ...superseded.flatMap((m) => writeMeta(l, m)),
      appendHistory(l, historyEntry("deploy", t, live, plan.previous, "ok", null, started)),
    ]);
  } catch (error) {
    emit({
      type: "warning",
      host: t.host.name,
      message: `could not record the release: ${(error as Error).message}`,
    });
  }
  if (signal?.aborted) return ["interrupted after the switch: after_switch hooks and cleanup were skipped"];
  const env = hookEnv(stage, l, plan.releaseId, plan.previous);
  const warnings = await softHooks(
    t,
    "after_switch hook",
    hookCmds(stage, "after_switch", l.release(plan.releaseId), env),
    emit,
  );

  const metas = new Map(before.metas);
  metas.set(live.id, live);
  for (const m of superseded) metas.set(m.id, m);
  const dirs = [...before.dirs, live.id];
  const prune = selectPrune(metas, dirs, live.id, stage.keepReleases);
  if (prune.length > 0) {
    try {
      await timed(emit, t.host.name, "remove old releases", () =>
        runStep(
          { executor: t.executor, emit },
          "remove old releases",
          prune.flatMap((id) => removeRelease(l, id)),
        ),
      );
    } catch (error) {
      warnings.push(`cleanup failed: ${(error as Error).message}`);
    }
  }
  return warnings;
}

/** What taking the lock created (deploy path, .cutover) is removed again when the run stops before preparing. */
export async function undoCreated(locked: readonly LockedTarget[]): Promise<void> {
  await Promise.all(
    locked
      .filter((t) => t.facts.created.length > 0)
      .map((t) => {
        const dirs = [t.layout.meta, ...(t.facts.created.includes("root") ? [t.layout.root] : [])];
        return t.executor
          .run([cmd(["rmdir", "--", ...dirs], { mayFail: true, quiet: true })])
          .catch(() => undefined);
      }),
  );
}
