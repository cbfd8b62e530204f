import { requireReleasesStrategy } from "../config/in-place-rules.js";
import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT } from "../errors.js";
import { checkInnerDirs } from "../plan/deploy.js";
import { layout } from "../plan/layout.js";
import { describeOwner, type LockOwner } from "../plan/lock.js";
import { planCleanup } from "../plan/reconcile.js";
import { appendHistory, clearObservedLock, pathEntry } from "../plan/records.js";
import type { Emit } from "./events.js";
import { onEveryHost } from "./every-host.js";
import { holderGone, lockAll, newOwner, readFacts, unlockAll } from "./lock.js";
import { whoAmI } from "./source.js";
import { runStep } from "./steps.js";
import { interruptOnSignal, openTargets, selectHosts } from "./targets.js";

export interface UnlockRow {
  readonly host: string;
  readonly cleared: boolean;
  readonly holder: string | null;
  readonly stale: boolean;
  /** The lock was cleared, but its history line could not be written (said as a warning). */
  readonly unrecorded?: true;
}

/**
 * Clears locks. A lock whose holder may still be running is only cleared with force. The history
 * line is written after, in a step of its own: a refused record (a full disk, a history that is no
 * regular file) is a warning, and the lock stays cleared.
 */
export async function unlock(
  stage: ResolvedStage,
  options: { hosts?: readonly string[]; force?: boolean; emit: Emit },
): Promise<UnlockRow[]> {
  const targets = openTargets(stage, selectHosts(stage, options.hosts));
  const who = whoAmI();
  try {
    const states = await onEveryHost(targets, async (t) => ({ t, facts: await readFacts(t, []) }));
    // Through a symlinked .cutover, the lock and history are another deploy path's: as lockAll does.
    for (const { t, facts } of states) {
      checkInnerDirs(t.host, facts, [".cutover"]);
      const { lock } = facts;
      if (lock.kind === "error")
        throw new CutoverError("unlock", `${t.host.name}: ${lock.message}`, {
          fix: lock.fix,
          exitCode: EXIT.usage,
        });
    }
    const live = states.filter(({ facts }) => facts.lock.kind === "held" && !holderGone(facts.lock.owner));
    if (live.length > 0 && !options.force) {
      const { t, facts } = live[0]!;
      const owner = facts.lock.kind === "held" ? facts.lock.owner : undefined;
      throw new CutoverError(
        "unlock",
        `${t.host.name}: the lock is held by ${describeOwner(owner)}, which may still be running`,
        {
          fix: "make sure that run is gone, then pass --force",
          exitCode: EXIT.locked,
        },
      );
    }
    const sums = new Map(
      states.map(({ t, facts }) => [t, facts.lock.kind === "held" ? facts.lock : undefined]),
    );
    return await onEveryHost(targets, async (t): Promise<UnlockRow> => {
      const held = sums.get(t);
      if (!held) return { host: t.host.name, cleared: false, holder: null, stale: false };
      const owner: LockOwner | undefined = held.owner;
      const l = layout(t.host.path);
      const quiet = { executor: t.executor, emit: () => undefined };
      await runStep(quiet, "unlock", [clearObservedLock(l, held.sum)]);
      const row = {
        host: t.host.name,
        cleared: true,
        holder: describeOwner(owner),
        stale: holderGone(owner),
      };
      const entry = pathEntry({
        event: "unlock",
        outcome: "ok",
        stage: stage.name,
        host: t.host.name,
        who,
        at: new Date().toISOString(),
        reason: `cleared lock of ${describeOwner(owner)}`,
      });
      try {
        await runStep(quiet, "record the unlock in history", [appendHistory(l, entry)]);
        return row;
      } catch (error) {
        // The host's own words (a refusal, a full disk) say why.
        const said =
          (error instanceof CutoverError && error.details.detail?.at(-1)) || (error as Error).message;
        const message = `the lock is cleared, but the unlock could not be recorded in history: ${said}`;
        options.emit({ type: "warning", host: t.host.name, message });
        return { ...row, unrecorded: true };
      }
    });
  } finally {
    await targets.close();
  }
}

export interface CleanupRow {
  readonly host: string;
  readonly removed: readonly string[];
  /** What was found that is not cutover's own: left alone. */
  readonly left: readonly string[];
}

/**
 * Removes leftovers of interrupted runs and releases beyond keep_releases, under the lock (or,
 * with dryRun, only says what it would remove). A signal stops the removal on the hosts (the
 * running step's process group), writes history and gives the lock back.
 */
export async function cleanup(
  stage: ResolvedStage,
  options: {
    hosts?: readonly string[];
    emit: Emit;
    command: string;
    lockWaitSeconds?: number;
    signal?: AbortSignal;
    dryRun?: boolean;
  },
): Promise<CleanupRow[]> {
  requireReleasesStrategy(stage, "cleanup");
  const { emit, signal } = options;
  const targets = openTargets(stage, selectHosts(stage, options.hosts));
  const who = whoAmI();
  const started = new Date();
  try {
    if (options.dryRun) {
      return await onEveryHost(targets, async (t) => {
        const facts = await readFacts(t, []);
        const plan = planCleanup(layout(t.host.path), facts, stage.keepReleases, started.toISOString());
        return { host: t.host.name, removed: plan.removed, left: facts.problems };
      });
    }
    const owner = newOwner(who, options.command, started);
    const locked = await lockAll(targets, {
      sharedPaths: [],
      owner,
      waitMs: (options.lockWaitSeconds ?? 0) * 1000,
      emit,
      signal,
    });
    const stopInterrupting = interruptOnSignal(locked, signal);
    try {
      return await onEveryHost(locked, async (t) => {
        const plan = planCleanup(t.layout, t.facts, stage.keepReleases, new Date().toISOString());
        let error: Error | undefined;
        if (plan.cmds.length > 0 && !signal?.aborted)
          error = await runStep({ executor: t.executor, emit }, "cleanup", plan.cmds).then(
            () => undefined,
            (e: Error) => e,
          );
        const outcome = signal?.aborted ? "aborted" : error ? "failed" : "ok";
        if (plan.removed.length > 0 || outcome !== "ok")
          await runStep({ executor: t.executor, emit }, "record", [
            appendHistory(
              t.layout,
              pathEntry({
                event: "cleanup",
                outcome,
                stage: stage.name,
                host: t.host.name,
                who,
                at: new Date().toISOString(),
                duration_ms: Date.now() - started.getTime(),
                reason: `${outcome === "ok" ? "removed" : "was removing"} ${plan.removed.join(", ") || "leftovers"}${error ? `: ${error.message}` : ""}`,
              }),
            ),
          ]).catch((e: Error) => emit({ type: "warning", host: t.host.name, message: e.message }));
        if (signal?.aborted)
          throw new CutoverError("interrupted", "cleanup interrupted by a signal", {
            exitCode: EXIT.interrupted,
          });
        if (error) throw error;
        return { host: t.host.name, removed: plan.removed, left: t.facts.problems };
      });
    } finally {
      stopInterrupting();
      await unlockAll(locked, owner, emit);
    }
  } finally {
    await targets.close();
  }
}
