import { appendHistory, type HistoryEntry, removeReleases, writeMeta } from "../plan/records.js";
import { type ReleaseMeta, revisionText } from "../plan/release-meta.js";
import type { HostRun, RunPlan } from "../plan/run.js";
import { redact } from "../report/redact.js";
import { type Cmd, shProgram } from "../shell/cmd.js";
import type { RunResult } from "../transport/executor.js";
import type { Emit } from "./events.js";
import { softHooks } from "./host-hooks.js";
import type { LockedTarget, TrailingUnlock } from "./lock.js";
import type { RecordsTail } from "./run-tail.js";
import { explainExit } from "./step-error.js";
import { runStep, timed } from "./steps.js";

/** One host of a run being applied: its planned commands and its open target. */
export interface Unit {
  readonly run: HostRun;
  readonly t: LockedTarget;
}

/** What the records of a run need besides the unit: the action, the clock and when it started. */
export interface RecordContext {
  readonly plan: RunPlan;
  readonly emit: Emit;
  readonly clock: () => Date;
  readonly started: Date;
}

/** Reasons are written to hosts and sent to webhooks: a secret in an error (a URL's token) never is. */
function keepSecret(ctx: RecordContext, text: string): string {
  return redact(text, ctx.plan.stage.secrets.values);
}

/** The commit's details (strategy: git) for the history line, when the release has them. */
function revisionInfo(meta: ReleaseMeta): Pick<HistoryEntry, "revision_info"> {
  const { ref, author, date, subject } = meta.revision ?? {};
  const info = Object.fromEntries(
    Object.entries({ ref, author, date, subject }).filter(([, v]) => v !== undefined),
  );
  return Object.keys(info).length > 0 ? { revision_info: info } : {};
}

function historyEntry(
  ctx: RecordContext,
  u: Unit,
  meta: ReleaseMeta,
  outcome: HistoryEntry["outcome"],
  reason: string | null,
): HistoryEntry {
  const now = ctx.clock();
  return {
    event: ctx.plan.action,
    outcome,
    stage: ctx.plan.stage.name,
    host: u.t.host.name,
    release: meta.id,
    previous: u.run.previous ?? null,
    revision: revisionText(meta.revision),
    ...revisionInfo(meta),
    who: meta.who,
    at: now.toISOString(),
    duration_ms: Math.max(0, now.getTime() - ctx.started.getTime()),
    reason: reason === null ? null : keepSecret(ctx, reason),
  };
}

const RECORDED = Buffer.from("@@recorded\0");
const recorded = shProgram("printf '@@recorded\\000'", [], { label: "the records are written" });

/**
 * Writes a host's records; `prune`: old releases to remove in the same round trip, after them
 * (their failure is the cleanup's: see prune). A failure of the records is a warning.
 */
async function record(
  u: Unit,
  title: string,
  cmds: readonly Cmd[],
  emit: Emit,
  unlock?: TrailingUnlock,
  prune?: readonly string[],
): Promise<string | undefined> {
  const host = u.t.host.name;
  const removal = prune ? [recorded, removeReleases(u.t.layout, prune)] : [];
  const warn = (said: string) => {
    emit({ type: "warning", host, message: `could not ${title}: ${said}` });
    return `${host}: could not ${title}: ${said}`;
  };
  let r: RunResult;
  try {
    r = await u.t.executor.run([...cmds, ...removal, ...(unlock ? [unlock.cmd] : [])]);
  } catch (error) {
    // A lost connection: the removal, if any, is tried again in its own round trip.
    return warn((error as Error).message);
  }
  const lastLine = r.stderr.trim().split("\n").at(-1) || explainExit(r.code);
  if (r.code === 0) unlock?.ran(r.stdout);
  // Exit 0: every command ran, the removal too. The marker is looked for anywhere: something may
  // print before it (a hook's background job, a login's banner), and the records print nothing.
  if (prune && (r.code === 0 || r.stdout.includes(RECORDED)))
    prunedWithRecords.set(u, r.code === 0 ? [] : [`${host}: cleanup failed: ${lastLine}`]);
  // The host's own words (a refusal, a full disk) say why; the step's title adds nothing here.
  else if (r.code !== 0) return warn(lastLine);
  return undefined;
}

/** Hosts whose old releases were removed in their records' round trip, with the cleanup's warnings. */
const prunedWithRecords = new WeakMap<Unit, string[]>();

/** The cleanup's warnings when u's old releases were removed in its records' round trip, else undefined. */
export function removedWithRecords(u: Unit): readonly string[] | undefined {
  return prunedWithRecords.get(u);
}

/**
 * The run ends before anything switched on this host. A deploy's release will not serve: on_failure
 * hooks, metadata `failed` with the reason, its files removed (the metadata stays, so `releases`
 * shows why). A rollback only writes its history line.
 */
export async function recordNotSwitched(
  ctx: RecordContext,
  u: Unit,
  meta: ReleaseMeta,
  reason: string,
  outcome: HistoryEntry["outcome"],
): Promise<void> {
  const l = u.t.layout;
  if (ctx.plan.action === "rollback") {
    await record(
      u,
      "record the failure",
      [appendHistory(l, historyEntry(ctx, u, meta, outcome, reason))],
      ctx.emit,
    );
    return;
  }
  await softHooks(u, "on_failure hook", u.run.onFailure, ctx.emit);
  const failed: ReleaseMeta = {
    ...meta,
    state: "failed",
    finished_at: ctx.clock().toISOString(),
    reason: keepSecret(ctx, reason),
  };
  await record(
    u,
    "record the failure",
    [
      // Its failure is recorded whatever the removal says (a refusal, the trash's .failed: a later
      // prune or cleanup says it again).
      { ...removeReleases(l, [meta.id]), mayFail: true },
      ...writeMeta(l, failed),
      appendHistory(l, historyEntry(ctx, u, failed, outcome, reason)),
    ],
    ctx.emit,
  );
}

/**
 * After the switch: the new release is live, the one before it superseded (or rolled-back), one
 * history line. Also for a host that could not be switched back after a failure: it does serve the
 * new release, so its records say so (the history line with the failure). Returns the warning when
 * the records could not be written.
 */
export async function recordLive(
  ctx: RecordContext,
  u: Unit,
  meta: ReleaseMeta,
  { failure, unlock, prune }: RecordsTail & { readonly failure?: string } = {},
): Promise<string | undefined> {
  const l = u.t.layout;
  const live: ReleaseMeta = {
    ...meta,
    state: "live",
    ...(ctx.plan.action === "deploy" ? { finished_at: ctx.clock().toISOString() } : {}),
  };
  const before = u.run.previousMeta;
  const who = live.who;
  const previous: ReleaseMeta | undefined = before
    ? ctx.plan.action === "deploy"
      ? { ...before, state: "superseded" }
      : { ...before, state: "rolled-back", reason: `rolled back to ${live.id} by ${who}` }
    : undefined;
  return record(
    u,
    `record the ${ctx.plan.action}`,
    [
      ...writeMeta(l, live),
      ...(previous ? writeMeta(l, previous) : []),
      appendHistory(l, historyEntry(ctx, u, live, failure ? "failed" : "ok", failure ?? null)),
    ],
    ctx.emit,
    unlock,
    prune,
  );
}

/**
 * A host switched back after the switch. A deploy's release is marked with `state` (bad: failed
 * its health check) and the one before is live again; a rollback's metadata was not changed yet
 * unless it was recorded, in which case it is put back.
 */
export async function recordSwitchedBack(
  ctx: RecordContext,
  u: Unit,
  meta: ReleaseMeta,
  reason: string,
  state: "failed" | "bad",
  recorded: boolean,
  outcome: HistoryEntry["outcome"],
): Promise<void> {
  const l = u.t.layout;
  const before = u.run.previousMeta;
  const cmds: Cmd[] =
    ctx.plan.action === "deploy"
      ? [
          ...writeMeta(l, {
            ...meta,
            state,
            reason: keepSecret(ctx, reason),
            finished_at: ctx.clock().toISOString(),
          }),
          ...(before ? writeMeta(l, { ...before, state: "live" }) : []),
        ]
      : recorded
        ? [...writeMeta(l, u.run.meta), ...(before ? writeMeta(l, before) : [])]
        : [];
  const entry = outcome === "failed" && ctx.plan.action === "deploy" ? "rolled-back" : outcome;
  cmds.push(appendHistory(l, historyEntry(ctx, u, meta, entry, reason)));
  await record(u, "record the switch back", cmds, ctx.emit);
}

/** Removes failed releases and good ones beyond keep_releases; returns a warning on failure. */
export async function prune(u: Unit, emit: Emit, unlock?: TrailingUnlock): Promise<string[]> {
  const ids = u.run.prune;
  // Removed with the records: its warnings were counted then (run-tail.ts recordPhase).
  if (prunedWithRecords.has(u)) return [];
  if (ids.length === 0) return [];
  const cmds = [removeReleases(u.t.layout, ids), ...(unlock ? [unlock.cmd] : [])];
  try {
    const { stdout } = await timed(emit, u.t.host.name, "remove old releases", () =>
      runStep({ executor: u.t.executor, emit }, "remove old releases", cmds),
    );
    unlock?.ran(stdout);
    return [];
  } catch (error) {
    return [`${u.t.host.name}: cleanup failed: ${(error as Error).message}`];
  }
}
