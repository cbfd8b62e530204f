import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT } from "../errors.js";
import { layout } from "../plan/layout.js";
import { describeOwner, type LockOwner } from "../plan/lock.js";
import { afterCleanup, findLeftovers, leftoverCmds } from "../plan/reconcile.js";
import { appendHistory, clearObservedLock, removeReleases } from "../plan/records.js";
import { selectPrune } from "../plan/select.js";
import type { Emit } from "./events.js";
import { holderGone, lockAll, newOwner, readFacts, unlockAll } from "./lock.js";
import { whoAmI } from "./source.js";
import { runStep } from "./steps.js";
import { openTargets, selectHosts } from "./targets.js";

export interface UnlockRow {
  readonly host: string;
  readonly cleared: boolean;
  readonly holder: string | null;
  readonly stale: boolean;
}

/** Clears locks. A lock whose holder may still be running is only cleared with force. */
export async function unlock(
  stage: ResolvedStage,
  options: { hosts?: readonly string[]; force?: boolean },
): Promise<UnlockRow[]> {
  const targets = openTargets(stage, selectHosts(stage, options.hosts));
  const who = whoAmI();
  try {
    const states = await Promise.all(targets.map(async (t) => ({ t, facts: await readFacts(t, []) })));
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
    return await Promise.all(
      states.map(async ({ t, facts }) => {
        if (facts.lock.kind !== "held")
          return { host: t.host.name, cleared: false, holder: null, stale: false };
        const owner: LockOwner | undefined = facts.lock.owner;
        const l = layout(t.host.path);
        const reason = `cleared lock of ${describeOwner(owner)}`;
        await runStep({ executor: t.executor, emit: () => undefined }, "unlock", [
          clearObservedLock(l, facts.lock.raw),
          appendHistory(l, {
            event: "unlock",
            outcome: "ok",
            stage: stage.name,
            host: t.host.name,
            release: null,
            previous: null,
            revision: null,
            who,
            at: new Date().toISOString(),
            duration_ms: null,
            reason,
          }),
        ]);
        return {
          host: t.host.name,
          cleared: true,
          holder: describeOwner(owner),
          stale: holderGone(owner),
        };
      }),
    );
  } finally {
    await targets.close();
  }
}

/** Removes leftovers of interrupted runs and releases beyond keep_releases, under the lock. */
export async function cleanup(
  stage: ResolvedStage,
  options: { hosts?: readonly string[]; emit: Emit; command: string; lockWaitSeconds?: number },
): Promise<{ host: string; removed: string[] }[]> {
  const targets = openTargets(stage, selectHosts(stage, options.hosts));
  const who = whoAmI();
  const owner = newOwner(who, options.command, new Date());
  try {
    const locked = await lockAll(targets, {
      sharedPaths: [],
      owner,
      waitMs: (options.lockWaitSeconds ?? 0) * 1000,
      emit: options.emit,
    });
    try {
      return await Promise.all(
        locked.map(async (t) => {
          const now = new Date().toISOString();
          const leftovers = findLeftovers(t.facts, now);
          const { metas, dirs } = afterCleanup(t.facts, leftovers);
          const live = t.facts.current.kind === "link" ? t.facts.current.release : undefined;
          const prune = selectPrune(metas, dirs, live, stage.keepReleases, t.facts.foreign);
          const cmds = [
            ...leftoverCmds(t.layout, leftovers),
            ...(prune.length > 0 ? [removeReleases(t.layout, prune)] : []),
          ];
          if (cmds.length > 0) await runStep({ executor: t.executor, emit: options.emit }, "cleanup", cmds);
          return { host: t.host.name, removed: [...leftovers.incomplete, ...prune] };
        }),
      );
    } finally {
      await unlockAll(locked, owner, options.emit);
    }
  } finally {
    await targets.close();
  }
}
