import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT, usageError } from "../errors.js";
import { planDrains } from "../plan/balancer.js";
import { type BalancerLink, openBalancer } from "./balancer.js";
import { type DeployOptions, deploy } from "./deploy.js";
import { waitIdle } from "./drained.js";
import type { Emit } from "./events.js";
import { onEveryHost } from "./every-host.js";
import { checkHealth } from "./health.js";
import { type LockedTarget, lockAll, newOwner, readFacts, unlockAll } from "./lock.js";
import type { DeployResult } from "./outcome.js";
import { type PoolSwitch, poolHosts, readPools, recordSwitch, switchToPool } from "./pool-switch.js";
import { whoAmI } from "./source.js";
import { openTargets } from "./targets.js";

/** The stage as the deploy engine sees it during a blue-green deploy: the idle pool alone, no balancer. */
export function poolStage(stage: ResolvedStage, hosts: readonly string[]): ResolvedStage {
  return {
    ...stage,
    hosts: stage.hosts.filter((h) => hosts.includes(h.name)),
    balancer: undefined,
    rolling: undefined,
    blueGreen: undefined,
  };
}

/** `changes`: the run switches the balancer, so it may first finish a switch a killed run left. */
async function withLink<T>(
  stage: ResolvedStage,
  changes: boolean,
  work: (link: BalancerLink) => Promise<T>,
): Promise<T> {
  const link = openBalancer(stage, undefined, changes);
  try {
    return await work(link);
  } finally {
    await link.close();
  }
}

/**
 * strategy: blue-green. The balancer says which pool is idle; the normal engine deploys there and
 * health-checks each host directly (the balancer does not send it a request). Only a release that
 * passed goes in service: the balancer switches to the idle pool in one step, the old pool stays
 * warm for `switch-back`.
 */
export async function blueGreenDeploy(
  options: DeployOptions,
): Promise<DeployResult & { switch?: PoolSwitch }> {
  const { stage, emit } = options;
  if (options.hosts && options.hosts.length > 0)
    throw usageError(
      "--hosts does not apply to strategy: blue-green",
      "a deploy goes to the whole idle pool",
    );
  return withLink(stage, true, async (link) => {
    const pools = await readPools(link, stage);
    const hosts = poolHosts(stage.blueGreen!, pools.idle);
    emit({
      type: "phase",
      phase: `${pools.live} serves; deploy to the idle pool ${pools.idle}: ${hosts.join(", ")}`,
    });
    // Requests the last switch left on the idle pool finish first: the deploy may reload its php-fpm.
    const [drain] = planDrains(link.config, [hosts]);
    await waitIdle(link, drain!, emit, options.signal);
    let report: PoolSwitch | undefined;
    const result = await deploy({
      ...options,
      stage: poolStage(stage, hosts),
      outOfService: true,
      // A run that waited for the lock may find the pools switched by the run it waited for.
      afterLock: async () => {
        const now = await readPools(link, stage);
        if (now.idle !== pools.idle)
          throw new CutoverError(
            "balancer",
            `blue-green: ${now.live} serves now: the balancer switched while this run waited for the lock of ${hosts.join(", ")}`,
            {
              state: "nothing was changed",
              fix: `run the deploy again: it goes to the idle pool ${now.idle}`,
            },
          );
      },
      // The switch under the pool's lock: no other run deploys there until it is in service.
      beforeUnlock: async (done) => {
        if (done.ok && done.exitCode === 0)
          report = await switchToPool(link, stage, pools, done.release, emit);
      },
    });
    if (!report) {
      emit({
        type: "warning",
        message: `the balancer still serves ${pools.live}: ${pools.idle} was not put in service`,
      });
      return result;
    }
    await recordSwitch(stage, "switch", report, whoAmI(), emit);
    return { ...result, switch: report };
  });
}

/**
 * The one release every host of the idle pool serves: what switch-back puts in service. It must be
 * live there (a deploy that finished, its checks passed): a deploy killed after the pool's switch
 * leaves a release that nothing checked, and switch-back is a rollback, not a way to finish it.
 */
function idleRelease(idle: readonly Pick<LockedTarget, "facts" | "host">[], pool: string): string {
  const serving = new Set(
    idle.map((t) => (t.facts.current.kind === "link" ? t.facts.current.release : undefined)),
  );
  const [release] = [...serving];
  if (serving.size !== 1 || !release)
    throw new CutoverError(
      "switch-back",
      `switch-back: the ${pool} pool does not serve one release on every host (${[...serving].map((r) => r ?? "none").join(", ")})`,
      {
        state: "nothing was changed",
        fix: "deploy first: `cutover deploy` puts a release on the idle pool",
      },
    );
  const unchecked = idle.find((t) => t.facts.metas.get(release)?.state !== "live");
  if (unchecked)
    throw new CutoverError(
      "switch-back",
      `switch-back: the ${pool} pool serves ${release}, which is ${unchecked.facts.metas.get(release)?.state ?? "unrecorded"} on ${unchecked.host.name}, not live: its deploy did not finish (killed after the switch?)`,
      {
        state: "nothing was changed",
        fix: `\`cutover deploy\` puts a checked release on the ${pool} pool, or \`cutover rollback --hosts ${idle.map((t) => t.host.name).join(",")}\` its previous one`,
      },
    );
  return release;
}

function requireBlueGreen(stage: ResolvedStage): void {
  if (!stage.blueGreen)
    throw usageError(
      `stage ${stage.name} is not blue-green`,
      "switch-back needs strategy: blue-green and pools",
    );
}

/** What switch-back would do, read from the balancer and the idle pool's hosts; changes nothing. */
export async function switchBackDryRun(
  stage: ResolvedStage,
): Promise<{ readonly from: string; readonly to: string; readonly release: string }> {
  requireBlueGreen(stage);
  return withLink(stage, false, async (link) => {
    const pools = await readPools(link, stage);
    const hosts = poolHosts(stage.blueGreen!, pools.idle);
    const targets = openTargets(
      stage,
      stage.hosts.filter((h) => hosts.includes(h.name)),
    );
    try {
      const idle = await onEveryHost(targets, async (t) => ({ host: t.host, facts: await readFacts(t, []) }));
      return { from: pools.live, to: pools.idle, release: idleRelease(idle, pools.idle) };
    } finally {
      await targets.close();
    }
  });
}

/**
 * Back to the pool that served before the last switch: it still runs its release, so nothing is
 * uploaded. Under the lock of every host; the pool is health-checked directly first.
 */
export async function switchBack(options: {
  readonly stage: ResolvedStage;
  readonly emit: Emit;
  readonly command: string;
  /** A signal stops it before the balancer switches (the switch itself is one step, let finish). */
  readonly signal?: AbortSignal;
}): Promise<PoolSwitch> {
  const { stage, emit } = options;
  requireBlueGreen(stage);
  return withLink(stage, true, async (link) => {
    const pools = await readPools(link, stage);
    const hosts = poolHosts(stage.blueGreen!, pools.idle);
    const targets = openTargets(stage, stage.hosts);
    const who = whoAmI();
    const owner = newOwner(who, options.command, new Date());
    try {
      const locked = await lockAll(targets, { sharedPaths: [], owner, waitMs: 0, emit });
      try {
        const idle = locked.filter((t) => hosts.includes(t.host.name));
        const release = idleRelease(idle, pools.idle);
        if (stage.healthCheck) {
          emit({ type: "phase", phase: `health check of ${pools.idle} (${release}), directly` });
          for (const t of idle) await checkHealth(t, stage.healthCheck, release, emit);
        }
        if (options.signal?.aborted)
          throw new CutoverError(
            "interrupted",
            "switch-back interrupted by a signal before the balancer switched",
            {
              state: "nothing was changed",
              exitCode: EXIT.interrupted,
            },
          );
        const report = await switchToPool(link, stage, pools, release, emit);
        await recordSwitch(stage, "switch-back", report, who, emit);
        return report;
      } finally {
        await unlockAll(locked, owner, emit);
      }
    } finally {
      await targets.close();
    }
  });
}

/** The stage of the idle pool, as the balancer says now (for --dry-run: read only). */
export async function idlePoolStage(stage: ResolvedStage): Promise<ResolvedStage> {
  return withLink(stage, false, async (link) => {
    const pools = await readPools(link, stage);
    return poolStage(stage, poolHosts(stage.blueGreen!, pools.idle));
  });
}
