import type { ResolvedStage } from "../config/resolve.js";
import type { HostDeployPlan } from "../plan/deploy.js";
import { hookCmds } from "../plan/hooks.js";
import { afterCleanup } from "../plan/reconcile.js";
import { appendHistory, type HistoryEntry, removeReleases, writeMeta } from "../plan/records.js";
import { type ReleaseMeta, revisionText } from "../plan/release-meta.js";
import { selectPrune } from "../plan/select.js";
import type { Cmd } from "../shell/cmd.js";
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
    revision: revisionText(meta.revision),
    who: meta.who,
    at: new Date().toISOString(),
    duration_ms: Date.now() - started.getTime(),
    reason,
  };
}

/** Runs hooks as one step; returns the error instead of throwing, so callers decide what it means. */
export async function tryHooks(
  t: LockedTarget,
  title: string,
  cmds: readonly Cmd[],
  emit: Emit,
): Promise<Error | undefined> {
  if (cmds.length === 0) return undefined;
  try {
    await timed(emit, t.host.name, title, () =>
      runStep({ executor: t.executor, emit, stream: true }, title, cmds),
    );
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

/** Hooks whose failure must not change the outcome: a failure becomes a warning. */
export async function softHooks(
  t: LockedTarget,
  title: string,
  cmds: readonly Cmd[],
  emit: Emit,
): Promise<string[]> {
  const error = await tryHooks(t, title, cmds, emit);
  if (!error) return [];
  emit({ type: "warning", host: t.host.name, message: error.message });
  return [error.message];
}

async function record(t: LockedTarget, title: string, cmds: readonly Cmd[], emit: Emit): Promise<void> {
  try {
    await runStep({ executor: t.executor, emit }, title, cmds);
  } catch (error) {
    emit({ type: "warning", host: t.host.name, message: `could not ${title}: ${(error as Error).message}` });
  }
}

/**
 * A release that is not going to serve on this host: on_failure hooks, metadata `failed` with the
 * reason, a history line; its files go (the metadata stays, so `releases` shows why).
 */
export async function recordFailure(
  t: LockedTarget,
  plan: HostDeployPlan,
  meta: ReleaseMeta,
  reason: string,
  outcome: HistoryEntry["outcome"],
  emit: Emit,
  started: Date,
): Promise<void> {
  const l = t.layout;
  await softHooks(t, "on_failure hook", hookCmds(plan.hooks, "on_failure", l.root), emit);
  const failed: ReleaseMeta = { ...meta, state: "failed", finished_at: new Date().toISOString(), reason };
  await record(
    t,
    "record the failure",
    [
      removeReleases(l, [plan.releaseId]),
      ...writeMeta(l, failed),
      appendHistory(l, historyEntry("deploy", t, failed, plan.previous, outcome, reason, started)),
    ],
    emit,
  );
}

/** After the switch: the new release is live, the previous one superseded, one history line. */
export async function recordLive(
  t: LockedTarget,
  plan: HostDeployPlan,
  prepared: ReleaseMeta,
  emit: Emit,
  started: Date,
): Promise<ReleaseMeta> {
  const l = t.layout;
  const live: ReleaseMeta = { ...prepared, state: "live", finished_at: new Date().toISOString() };
  const previousMeta = plan.previous
    ? afterCleanup(t.facts, plan.leftovers).metas.get(plan.previous)
    : undefined;
  await record(
    t,
    "record the release",
    [
      ...writeMeta(l, live),
      ...(previousMeta ? writeMeta(l, { ...previousMeta, state: "superseded" }) : []),
      appendHistory(l, historyEntry("deploy", t, live, plan.previous, "ok", null, started)),
    ],
    emit,
  );
  return live;
}

/** A live release switched back because a step after the switch failed (rollback_on). */
export async function recordSwitchedBack(
  t: LockedTarget,
  plan: HostDeployPlan,
  live: ReleaseMeta,
  reason: string,
  state: "failed" | "bad",
  emit: Emit,
  started: Date,
): Promise<void> {
  const l = t.layout;
  const previousMeta = plan.previous
    ? afterCleanup(t.facts, plan.leftovers).metas.get(plan.previous)
    : undefined;
  await record(
    t,
    "record the switch back",
    [
      ...writeMeta(l, { ...live, state, reason, finished_at: new Date().toISOString() }),
      ...(previousMeta ? writeMeta(l, { ...previousMeta, state: "live" }) : []),
      appendHistory(l, historyEntry("deploy", t, live, plan.previous, "rolled-back", reason, started)),
    ],
    emit,
  );
}

/** Removes failed releases and good ones beyond keep_releases; returns a warning on failure. */
export async function prune(
  t: LockedTarget,
  plan: HostDeployPlan,
  stage: ResolvedStage,
  live: ReleaseMeta,
  emit: Emit,
): Promise<string[]> {
  const before = afterCleanup(t.facts, plan.leftovers);
  const metas = new Map(before.metas);
  metas.set(live.id, live);
  if (plan.previous && metas.has(plan.previous))
    metas.set(plan.previous, { ...metas.get(plan.previous)!, state: "superseded" });
  const ids = selectPrune(metas, [...before.dirs, live.id], live.id, stage.keepReleases, t.facts.foreign);
  if (ids.length === 0) return [];
  try {
    await timed(emit, t.host.name, "remove old releases", () =>
      runStep({ executor: t.executor, emit }, "remove old releases", [removeReleases(t.layout, ids)]),
    );
    return [];
  } catch (error) {
    return [`${t.host.name}: cleanup failed: ${(error as Error).message}`];
  }
}
