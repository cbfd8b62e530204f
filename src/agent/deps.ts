import path from "node:path";
import { AGENT_DEFAULTS } from "../config/agent-settings.js";
import type { ResolvedStage } from "../config/resolve.js";
import { listReleases, type ReleaseRow, readHistory } from "../engine/inspect.js";
import type { DeployResult } from "../engine/outcome.js";
import { usageError } from "../errors.js";
import { redact } from "../report/redact.js";
import type { Live, PullDeps, Rejection } from "./pull.js";
import { type FailedCommit, readState, withFailure, withoutFailure, writeState } from "./state.js";
import { retryDelaySeconds } from "./transient.js";

/** Pull and the agent run on the server itself: every host of the stage must be a local deploy path. */
export function requireLocal(stage: ResolvedStage, command: string): void {
  const remote = stage.hosts.find((h) => h.ssh !== undefined);
  if (remote)
    throw usageError(
      `${command}: host "${remote.name}" of stage ${stage.name} is reached over SSH; ${command} runs on the server itself`,
      `run \`cutover ${command}\` on that server with a stage whose hosts are local paths, or use \`cutover deploy\` from here`,
    );
}

/** Where the agent keeps its state: agent.state_file, relative to the (first) deploy path. */
export function stateFile(stage: ResolvedStage): string {
  return path.resolve(stage.hosts[0]!.path, stage.agent?.stateFile ?? AGENT_DEFAULTS.stateFile);
}

/** What every host serves, and its commit; null where hosts disagree or no host serves anything. */
export function liveOf(rows: readonly ReleaseRow[], hostCount: number): Live {
  const live = rows.find((r) => Object.values(r.hosts).filter((h) => h.live).length === hostCount);
  const revision = live?.meta.revision;
  return { release: live?.id ?? null, commit: revision && !revision.dirty ? revision.commit : null };
}

const REJECTED = new Set(["failed", "bad", "rolled-back"]);

/**
 * The newest release made from `commit` failed, was switched back, or was rolled back from. One
 * that failed because its run was interrupted (`aborted` in the history) says nothing about the commit.
 */
export function rejectedBy(
  rows: readonly ReleaseRow[],
  commit: string,
  aborted: ReadonlySet<string> = new Set(),
): string | undefined {
  const newest = rows.find((r) => r.meta.revision?.commit === commit); // rows are newest first
  if (newest === undefined || !REJECTED.has(newest.meta.state)) return undefined;
  if (newest.meta.state === "failed" && aborted.has(newest.id)) return undefined;
  return `release ${newest.id} of this commit is ${newest.meta.state}${newest.meta.reason ? `: ${newest.meta.reason}` : ""}`;
}

/** An attempt at `commit` that failed before making a release, unless a release of it came later. */
export function rememberedFailure(
  rows: readonly ReleaseRow[],
  failed: readonly FailedCommit[],
  commit: string,
): string | undefined {
  const remembered = failed.find((f) => f.commit === commit && f.retry_at === undefined);
  if (remembered === undefined) return undefined;
  const later = rows.some((r) => r.meta.revision?.commit === commit && r.meta.started_at > remembered.at);
  return later ? undefined : `it failed at ${remembered.at}: ${remembered.reason}`;
}

/**
 * A transient failure of `commit` that still decides (no release of it came after that attempt):
 * held until its retry time, then tried again; undefined when there is none or its time has come.
 */
export function transientHold(
  rows: readonly ReleaseRow[],
  failed: readonly FailedCommit[],
  commit: string,
  now: Date,
): Rejection | "due" | undefined {
  const entry = failed.find((f) => f.commit === commit && f.retry_at !== undefined);
  if (entry?.retry_at === undefined) return undefined;
  const newest = rows.find((r) => r.meta.revision?.commit === commit);
  if (newest !== undefined && newest.id !== entry.release && newest.meta.started_at > entry.at)
    return undefined;
  if (now.getTime() >= Date.parse(entry.retry_at)) return "due";
  const tries = entry.attempts ?? 1;
  return {
    reason: `${tries} attempt${tries > 1 ? "s" : ""} failed transiently, the last at ${entry.at}: ${entry.reason}`,
    retryAt: entry.retry_at,
  };
}

export function pullDeps(
  stage: ResolvedStage,
  resolve: PullDeps["resolve"],
  deploy: (commit: string, signal?: AbortSignal) => Promise<DeployResult>,
  now: () => Date = () => new Date(),
): PullDeps {
  const file = stateFile(stage);
  const root = stage.hosts[0]!.path;
  return {
    resolve,
    live: async () => liveOf(await listReleases(stage), stage.hosts.length),
    rejected: async (commit) => {
      const rows = await listReleases(stage);
      const { failed } = readState(file, root).state;
      // The release a transient attempt left is failed in its metadata: that says nothing about the commit.
      const hold = transientHold(rows, failed, commit, now());
      if (hold === "due") return undefined;
      if (hold) return hold;
      const aborted = (await readHistory(stage, 500))
        .filter((e) => e.event === "deploy" && e.outcome === "aborted" && e.release !== null)
        .map((e) => e.release!);
      const reason = rejectedBy(rows, commit, new Set(aborted)) ?? rememberedFailure(rows, failed, commit);
      return reason === undefined ? undefined : { reason };
    },
    deploy,
    remember: (commit, failure) => {
      const { state } = readState(file, root);
      if (failure === undefined) {
        if (state.failed.some((f) => f.commit === commit))
          writeState(file, withoutFailure(state, commit), root);
        return undefined;
      }
      const at = now();
      let retry: Pick<FailedCommit, "retry_at" | "attempts" | "release"> = {};
      if (failure.transient !== undefined) {
        const previous = state.failed.find((f) => f.commit === commit && f.retry_at !== undefined);
        const attempts = (previous?.attempts ?? 0) + 1;
        const agent = stage.agent ?? {
          pollSeconds: AGENT_DEFAULTS.pollSeconds,
          backoffMaxSeconds: AGENT_DEFAULTS.backoffMaxSeconds,
        };
        const delayMs = retryDelaySeconds(attempts, agent.pollSeconds, agent.backoffMaxSeconds) * 1000;
        retry = {
          retry_at: new Date(at.getTime() + delayMs).toISOString(),
          attempts,
          release: failure.release,
        };
      }
      // The file outlives this run and /status shows it: no secret goes in.
      const reason = redact(failure.reason, stage.secrets.values);
      writeState(file, withFailure(state, { commit, at: at.toISOString(), reason, ...retry }), root);
      return retry.retry_at;
    },
  };
}
