import type { ResolvedStage } from "../config/resolve.js";
import { usageError } from "../errors.js";
import { planInPlaceRollbackRun } from "../plan/in-place.js";
import { planRollbackRun } from "../plan/rollback-run.js";
import { drains } from "../plan/run.js";
import { type BalancerLink, withBalancer } from "./balancer.js";
import { listBuilds } from "./build-cache.js";
import type { Emit } from "./events.js";
import { lockAll, newOwner, trailingUnlock, unlockAll } from "./lock.js";
import { withNotifications } from "./notifications.js";
import { type DeployResult, describeLeftovers } from "./outcome.js";
import { refuseUnsafeReload } from "./php-runtime.js";
import { applyRun } from "./run.js";
import { snapshotState } from "./snapshot-read.js";
import { whoAmI } from "./source.js";
import { type ExecutorFactory, openTargets, selectHosts } from "./targets.js";

export interface RollbackOptions {
  readonly stage: ResolvedStage;
  readonly hosts?: readonly string[];
  readonly to?: string;
  readonly force?: boolean;
  readonly lockWaitSeconds?: number;
  readonly emit: Emit;
  readonly signal?: AbortSignal;
  readonly command: string;
  readonly now?: () => Date;
  readonly executors?: ExecutorFactory;
  /** After the switch back, restore the snapshot of shared/ taken before the live release was deployed. */
  readonly restoreShared?: boolean;
  /** Compare the release with its manifest before switching (default true; --no-verify). */
  readonly verify?: boolean;
}

/** A rollback is a run of the same engine as a deploy, without the prepare phase; webhooks around it. */
export async function rollback(options: RollbackOptions): Promise<DeployResult> {
  if (options.stage.blueGreen && !options.hosts?.length)
    throw usageError(
      `rollback: stage ${options.stage.name} is blue-green; a rollback of every host would switch the live pool in place`,
      "run `cutover switch-back` to serve the other pool again (or roll one pool back with --hosts)",
    );
  return withNotifications(options.stage, "rollback", options.emit, () =>
    withBalancer(
      options.stage,
      options.stage.hosts,
      options.executors,
      (balancer) => rollbackRun(options, balancer),
      selectHosts(options.stage, options.hosts),
    ),
  );
}

async function rollbackRun(
  options: RollbackOptions,
  balancer: BalancerLink | undefined,
): Promise<DeployResult> {
  const { stage, emit } = options;
  const clock = options.now ?? (() => new Date());
  const started = clock();
  const who = whoAmI();
  const targets = openTargets(stage, selectHosts(stage, options.hosts), options.executors);
  const owner = newOwner(who, options.command, started);
  try {
    const locked = await lockAll(targets, {
      sharedPaths: [],
      owner,
      waitMs: (options.lockWaitSeconds ?? 0) * 1000,
      emit,
      signal: options.signal,
    });
    try {
      const input = {
        stage,
        hosts: locked,
        to: options.to,
        force: options.force ?? false,
        now: started.toISOString(),
        restoreShared: options.restoreShared
          ? { ...(await snapshotState(locked, started, emit)), who }
          : undefined,
        verify: options.verify,
      };
      const plan =
        stage.strategy === "in-place"
          ? planInPlaceRollbackRun({ ...input, builds: await listBuilds(stage) })
          : planRollbackRun(input);
      // Drained, a php-fpm reload meets no request in flight.
      if (!drains(stage)) await refuseUnsafeReload(locked, stage, options.force ?? false, emit);
      for (const h of plan.hosts) {
        const message = describeLeftovers(h.leftovers);
        if (message) emit({ type: "warning", host: h.host.name, message });
      }
      return await applyRun(plan, locked, {
        emit,
        signal: options.signal,
        clock,
        started,
        who,
        balancer,
        unlock: (t) => trailingUnlock(t, owner),
      });
    } finally {
      await unlockAll(locked, owner, emit);
    }
  } finally {
    await targets.close();
  }
}
