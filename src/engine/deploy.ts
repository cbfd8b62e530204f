import type { ResolvedStage } from "../config/resolve.js";
import { usageError } from "../errors.js";
import type { SourceFacts } from "../plan/deploy.js";
import { planInPlaceDeployRun } from "../plan/in-place.js";
import { uploadExcludes } from "../plan/release-content.js";
import { nextReleaseId } from "../plan/release-id.js";
import { drains, planDeployRun, type RunPlan } from "../plan/run.js";
import type { ProbeReport } from "../probe/report.js";
import { type BalancerLink, withBalancer } from "./balancer.js";
import { buildLocally, type LocalBuild } from "./build-local.js";
import { decideAhead } from "./delta-decision.js";
import { sourceIndexOnce } from "./delta-upload.js";
import type { Emit } from "./events.js";
import { gitSourceFacts, type ResolvedRefs, type ResolveOptions, withCommitDetails } from "./git-source.js";
import { HashCache } from "./hash-cache.js";
import { inPlaceBuild, pruneInPlaceBuilds } from "./in-place-builds.js";
import { lockAll, newOwner, trailingUnlock, undoCreated, unlockAll } from "./lock.js";
import { withNotifications } from "./notifications.js";
import { type DeployResult, describeLeftovers } from "./outcome.js";
import { refuseUnsafeReload } from "./php-runtime.js";
import { withProbe } from "./probed-run.js";
import { applyRun } from "./run.js";
import { snapshotState } from "./snapshot-read.js";
import { privateSourceWarning, sourceFacts, whoAmI } from "./source.js";
import { type ExecutorFactory, openTargets, selectHosts } from "./targets.js";

export interface DeployOptions {
  readonly stage: ResolvedStage;
  readonly hosts?: readonly string[];
  readonly lockWaitSeconds?: number;
  readonly emit: Emit;
  readonly signal?: AbortSignal;
  readonly command: string;
  readonly now?: () => Date;
  /** Hosts prepared at the same time (default: all). */
  readonly parallel?: number;
  /** Go ahead where cutover would refuse: reset: reload on a php-fpm that kills requests on reload. */
  readonly force?: boolean;
  /** The hosts are out of the balancer (blue-green's idle pool): a php-fpm reload meets no request. */
  readonly outOfService?: boolean;
  /** HTTP load during the deploy, judged afterwards (observes; never changes the outcome). */
  readonly probe?: { readonly url: string; readonly concurrency: number };
  /** strategy: git: the branch, tag or full commit id to deploy instead of the stage's `ref`. */
  readonly ref?: string;
  /** strategy: git: refs already resolved by this command (the commit is taken from there). */
  readonly resolvedRefs?: ResolvedRefs;
  /** How hosts are reached (tests inject failing executors). */
  readonly executors?: ExecutorFactory;
  /** Right after the lock, before any change; a throw stops the run (blue-green reads the pools again). */
  readonly afterLock?: () => Promise<void>;
  /** After the run, still under the lock (blue-green switches the balancer here). */
  readonly beforeUnlock?: (result: DeployResult) => Promise<void>;
}

/**
 * A deploy with everything around it: webhooks (`started`, then the outcome, also when the run
 * throws) and the optional load probe, which is always stopped.
 */
export async function deploy(options: DeployOptions): Promise<DeployResult & { probe?: ProbeReport }> {
  return withNotifications(options.stage, "deploy", options.emit, () =>
    withProbe(options.probe, options.emit, (emit) =>
      withBalancer(
        options.stage,
        options.stage.hosts,
        options.executors,
        (balancer) => deployRun({ ...options, emit }, balancer),
        selectHosts(options.stage, options.hosts),
      ),
    ),
  );
}

/** Lock -> read every host -> plan (pure) -> apply; nothing switches unless every host is ready. */
async function deployRun(options: DeployOptions, balancer: BalancerLink | undefined): Promise<DeployResult> {
  const { stage, emit } = options;
  const clock = options.now ?? (() => new Date());
  const started = clock();
  const who = whoAmI();
  const targets = openTargets(stage, selectHosts(stage, options.hosts), options.executors);
  for (const t of targets) t.executor.connect(); // SSH handshakes overlap reading the source
  const sourceIndex = sourceIndexOnce();
  // Deployed from here before: index the source while the hosts connect and lock (the delta upload
  // needs it), after the lock's first command is on its way, and decide what to link from the
  // manifest recorded last.
  if (
    stage.strategy !== "in-place" &&
    !stage.git &&
    stage.buildLocal.length === 0 &&
    HashCache.exists(stage.source)
  )
    setImmediate(() => {
      // Only a head start: whatever goes wrong here happens again where it is needed, and is told there.
      decideAhead(sourceIndex(stage.source, uploadExcludes(stage), true)).catch(() => undefined);
    });
  const owner = newOwner(who, options.command, started);
  let build: LocalBuild | undefined;
  try {
    // The commit is resolved and the build made before the lock: nothing on a host changes if either fails.
    let source = await deploySource(stage, options.ref, options);
    const privateSource = stage.git ? undefined : privateSourceWarning(stage.source);
    if (privateSource) emit({ type: "warning", message: privateSource });
    if (stage.git && source.revision)
      emit({
        type: "info",
        message: `${stage.git.shown}: ${source.revision.ref ?? "commit"} → ${source.revision.commit}`,
      });
    if (stage.buildLocal.length > 0) {
      build = await buildLocally(stage, source.revision?.commit, emit, options.signal);
      source = {
        ...source,
        revision: build.commitDetails
          ? withCommitDetails(source.revision, build.commitDetails)
          : source.revision,
        built: { dir: build.dir, checksum: build.checksum },
      };
    }
    let waited = false;
    const locked = await lockAll(targets, {
      sharedPaths: [...stage.sharedDirs, ...stage.sharedFiles],
      owner,
      waitMs: (options.lockWaitSeconds ?? 0) * 1000,
      emit,
      signal: options.signal,
      onWait: () => {
        waited = true;
      },
    });
    // After waiting for another run's lock the source may have changed since it was indexed: index
    // it again. A slow handshake is no such wait (a fleet's takes seconds): the early index stands.
    const index = waited ? sourceIndexOnce() : sourceIndex;
    try {
      let plan: RunPlan;
      try {
        await options.afterLock?.();
        // Drained, a php-fpm reload meets no request in flight.
        if (!drains(stage) && !options.outOfService)
          await refuseUnsafeReload(locked, stage, options.force ?? false, emit);
        const releaseId = nextReleaseId(
          started,
          locked.flatMap((t) => [...t.facts.releaseDirs, ...t.facts.metas.keys()]),
        );
        const snapshots = stage.snapshots.beforeDeploy
          ? await snapshotState(locked, started, emit)
          : undefined;
        const input = { stage, hosts: locked, source, releaseId, who, now: started.toISOString(), snapshots };
        plan =
          stage.strategy === "in-place"
            ? planInPlaceDeployRun({ ...input, builds: await inPlaceBuild(stage, releaseId, locked, emit) })
            : planDeployRun(input);
      } catch (error) {
        await unlockAll(locked, owner, emit);
        await undoCreated(locked);
        throw error;
      }
      for (const h of plan.hosts) {
        const message = describeLeftovers(h.leftovers);
        if (message) emit({ type: "warning", host: h.host.name, message });
      }
      const result = await applyRun(plan, locked, {
        emit,
        signal: options.signal,
        parallel: options.parallel,
        clock,
        started,
        who,
        balancer,
        sourceIndex: index,
        // In place, the builds are pruned after the run, still under the lock.
        unlock:
          stage.strategy === "in-place" || options.beforeUnlock ? undefined : (t) => trailingUnlock(t, owner),
      });
      if (stage.strategy === "in-place") await pruneInPlaceBuilds(plan, result, emit);
      await options.beforeUnlock?.(result);
      return result;
    } finally {
      await unlockAll(locked, owner, emit);
    }
  } finally {
    // A run stopped before any host had its upload (a lock held elsewhere) keeps its hashes too.
    sourceIndex.handedOver();
    build?.cleanup();
    await targets.close();
  }
}

/** What is deployed: the source tree here, or (strategy: git) the commit the ref resolves to now. */
export async function deploySource(
  stage: ResolvedStage,
  ref: string | undefined,
  resolving: ResolveOptions = {},
): Promise<SourceFacts> {
  if (stage.git) return gitSourceFacts(stage, ref, resolving);
  if (ref !== undefined)
    throw usageError(
      `--ref is only for strategy: git (stage ${stage.name} uses ${stage.strategy})`,
      "drop --ref",
    );
  return sourceFacts(stage);
}
