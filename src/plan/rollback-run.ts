import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT } from "../errors.js";
import { type HookScope, hookCmds } from "./hooks.js";
import { layout } from "./layout.js";
import { afterCleanup, findLeftovers, leftoverCmds, liveRelease } from "./reconcile.js";
import type { ReleaseMeta } from "./release-meta.js";
import { releaseOrder } from "./release-order.js";
import { type HostRun, type HostState, type RunPlan, switchPhases, undoOf, withBatchHooks } from "./run.js";
import { rollbackTarget } from "./select.js";
import { restoreSharedCmds, type SnapshotState } from "./snapshot-plan.js";
import { switchTo } from "./switch.js";

export interface RollbackRunInput {
  readonly stage: ResolvedStage;
  readonly hosts: readonly HostState[];
  readonly to: string | undefined;
  readonly force: boolean;
  readonly now: string;
  /** rollback --restore-shared: restore the snapshot taken before the live release was deployed. */
  readonly restoreShared?: SnapshotState & { readonly who: string };
  /** Compare the target with its manifest before switching (default; rollback --no-verify: false). */
  readonly verify?: boolean;
}

/**
 * Decides the target on every host first (all must agree and have its files, or nothing is
 * switched), then the same phases as a deploy after its barrier: switch -> reset -> health -> record
 * -> after_rollback. A failed switch or reset switches back to what was live; a failed health check
 * only warns (the release rolled back from is no better).
 */
export function planRollbackRun(input: RollbackRunInput): RunPlan {
  const { stage } = input;
  const among = input.hosts.map((h) => h.host);
  if (input.to !== undefined) refuseSplit(input.hosts, input.to);
  const chosen = input.hosts.map(({ host, facts }) => {
    const leftovers = findLeftovers(facts, input.now);
    const { metas, dirs } = afterCleanup(facts, leftovers);
    const live = liveRelease(facts);
    if (input.to === undefined && live !== undefined) refuseUnrecorded(host.name, facts.metas.get(live));
    const target = rollbackTarget(host.name, metas, live, input.to, input.force);
    if (!dirs.includes(target))
      throw rollbackError(`${host.name}: release ${target} has no files on this host`);
    const restore =
      input.restoreShared && restoreSharedCmds(stage, host, live!, input.restoreShared, input.now);
    return { host, facts, leftovers, metas, live: live!, target, restore: restore ?? [] };
  });
  const targets = new Set(chosen.map((c) => c.target));
  if (targets.size > 1) {
    refuseSplit(input.hosts, undefined);
    throw rollbackError(
      `hosts disagree on the release to roll back to: ${chosen.map((c) => `${c.host.name} → ${c.target}`).join(", ")}`,
      "name one with --to ID (it must exist and be good on every host)",
    );
  }
  const release = chosen[0]!.target;
  const hosts = chosen.map(({ host, facts, leftovers, metas, live, restore }) => {
    const l = layout(host.path);
    const hooks: HookScope = { stage, host, among, layout: l, release, previous: live };
    return {
      host,
      layout: l,
      previous: live,
      leftovers,
      clean: leftoverCmds(l, leftovers),
      snapshot: [],
      restoreShared: restore,
      prepare: [],
      switchTo: switchTo(l, release),
      switchBack: undoOf(l, facts, release),
      meta: metas.get(release)!,
      previousMeta: metas.get(live),
      hooks,
      after: hookCmds(hooks, "after_rollback", l.release(release)),
      afterSwitchBack: [],
      onFailure: [],
      prune: [],
    };
  });
  return rollbackPlan(input, release, hosts, input.verify !== false);
}

/** A rollback's phases around its hosts' parts, whatever the strategy. */
export function rollbackPlan(
  input: Pick<RollbackRunInput, "stage" | "hosts" | "restoreShared">,
  release: string,
  hosts: readonly Omit<HostRun, "beforeBatch" | "afterBatch">[],
  check = false,
): RunPlan {
  const { stage } = input;
  return {
    action: "rollback",
    stage,
    release,
    hosts: withBatchHooks(stage, hosts, release),
    phases: [
      { kind: "clean" },
      ...(check ? [{ kind: "check" } as const] : []),
      ...switchPhases(stage, input.hosts, "rollback", input.restoreShared !== undefined),
      { kind: "after", hook: "after_rollback", switchBackOnFailure: false },
    ],
  };
}

/**
 * Hosts that serve different releases (a rollback killed between its hosts' switches, or one run
 * with --hosts): one release for all may be live on some already. Say which, and the command that
 * brings the others to it (the oldest live one without --to), rather than "already live" alone.
 */
function refuseSplit(hosts: readonly HostState[], to: string | undefined): void {
  const lives = hosts.map((h) => ({ name: h.host.name, live: liveRelease(h.facts) }));
  const ids = [...new Set(lives.map((l) => l.live))];
  if (ids.length < 2 || ids.some((id) => id === undefined)) return;
  const target =
    to ?? (ids as string[]).sort(releaseOrder(new Map(hosts.flatMap((h) => [...h.facts.metas]))))[0]!;
  const on = lives.filter((l) => l.live === target).map((l) => l.name);
  if (on.length === 0) return; // every host switches: the usual checks
  const serve = lives.map((l) => `${l.name} → ${l.live}`).join(", ");
  const others = lives.filter((l) => l.live !== target).map((l) => l.name);
  throw rollbackError(
    to
      ? `${on.join(", ")}: release ${to} is already live (the hosts serve different releases: ${serve})`
      : `hosts serve different releases: ${serve}, so they have no previous release in common`,
    `switch the others alone: \`cutover rollback --to ${target} --hosts ${others.join(",")}\`${to ? "" : ", or name one release for every host with --to ID"}`,
  );
}

/**
 * `current` on a release whose metadata says it was superseded: a rollback switched to it and was
 * not recorded (killed, or its records met a full disk). Another plain rollback would go one
 * release further back than the one meant, so the release is asked for by name.
 */
function refuseUnrecorded(host: string, meta: ReleaseMeta | undefined): void {
  if (meta?.state !== "superseded" && meta?.state !== "rolled-back") return;
  throw rollbackError(
    `${host}: an earlier rollback switched to ${meta.id} and was not recorded (interrupted, or its records could not be written): ${meta.id} is live`,
    "a rollback from here goes one release further back: see `cutover releases` and name the release with --to ID",
  );
}

function rollbackError(message: string, fix?: string): CutoverError {
  return new CutoverError("rollback", message, { fix, exitCode: EXIT.failed });
}
