import type { ResolvedStage } from "../config/resolve.js";
import type { HostFacts } from "../plan/facts.js";
import { type BuildCache, planInPlaceDeployRun, planInPlaceRollbackRun } from "../plan/in-place.js";
import { nextReleaseId } from "../plan/release-id.js";
import { planRollbackRun } from "../plan/rollback-run.js";
import { planDeployRun, type RunPlan } from "../plan/run.js";
import { listBuilds } from "./build-cache.js";
import { deploySource } from "./deploy.js";
import { onEveryHost } from "./every-host.js";
import { readFacts } from "./lock.js";
import { snapshotState } from "./snapshot-read.js";
import { whoAmI } from "./source.js";
import { openTargets, selectHosts } from "./targets.js";

/** The host state a dry run planned from: what it would clean up and what it leaves alone. */
export interface DryRun {
  readonly plan: RunPlan;
  readonly problems: ReadonlyMap<string, readonly string[]>;
}

async function readAll(
  stage: ResolvedStage,
  hosts: readonly string[] | undefined,
  sharedPaths: readonly string[],
  withSnapshots: boolean,
) {
  const targets = openTargets(stage, selectHosts(stage, hosts));
  try {
    const facts = await onEveryHost(targets, (t) => readFacts(t, sharedPaths));
    const snapshots = withSnapshots ? await snapshotState(targets, new Date(), () => undefined) : undefined;
    return {
      hosts: targets.map((t, i) => ({ host: t.host, facts: facts[i]! as HostFacts })),
      snapshots,
    };
  } finally {
    await targets.close();
  }
}

const problemsOf = (read: readonly { host: { name: string }; facts: HostFacts }[]) =>
  new Map(read.map((r) => [r.host.name, r.facts.problems]));

/** The exact plan a deploy would run, from a read-only look at every host. Changes nothing. */
export async function dryRunDeploy(
  stage: ResolvedStage,
  hosts?: readonly string[],
  ref?: string,
): Promise<DryRun> {
  // Resolving a git ref only reads the repository (git ls-remote); a local build is named, not made.
  const source = await deploySource(stage, ref);
  const built =
    stage.buildLocal.length > 0
      ? { dir: "(local build of build.local)", checksum: "(its manifest checksum)" }
      : undefined;
  const { hosts: read, snapshots } = await readAll(
    stage,
    hosts,
    [...stage.sharedDirs, ...stage.sharedFiles],
    stage.snapshots.beforeDeploy,
  );
  const started = new Date();
  const releaseId = nextReleaseId(
    started,
    read.flatMap((r) => [...r.facts.releaseDirs, ...r.facts.metas.keys()]),
  );
  const input = {
    stage,
    hosts: read,
    source: { ...source, built },
    releaseId,
    who: whoAmI(),
    now: started.toISOString(),
    snapshots,
  };
  // In place, the build this run would make is named, not made: a dry run writes nothing here either.
  const plan =
    stage.strategy === "in-place"
      ? planInPlaceDeployRun({ ...input, builds: withBuild(await listBuilds(stage), releaseId) })
      : planDeployRun(input);
  return { plan, problems: problemsOf(read) };
}

export async function dryRunRollback(
  stage: ResolvedStage,
  options: {
    hosts?: readonly string[];
    to?: string;
    force?: boolean;
    restoreShared?: boolean;
    verify?: boolean;
  },
): Promise<DryRun> {
  const { hosts: read, snapshots } = await readAll(stage, options.hosts, [], options.restoreShared ?? false);
  const input = {
    stage,
    hosts: read,
    to: options.to,
    force: options.force ?? false,
    now: new Date().toISOString(),
    restoreShared: snapshots ? { ...snapshots, who: whoAmI() } : undefined,
    verify: options.verify,
  };
  const plan =
    stage.strategy === "in-place"
      ? planInPlaceRollbackRun({ ...input, builds: await listBuilds(stage) })
      : planRollbackRun(input);
  return { plan, problems: problemsOf(read) };
}

function withBuild(cache: BuildCache, id: string): BuildCache {
  return { ...cache, ids: [...cache.ids, id] };
}
