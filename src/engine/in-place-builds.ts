import type { ResolvedStage } from "../config/resolve.js";
import type { BuildCache } from "../plan/in-place.js";
import { checkInPlaceTarget } from "../plan/in-place-target.js";
import type { HostState, RunPlan } from "../plan/run.js";
import { createBuild, dropBuild, listBuilds, pruneBuilds } from "./build-cache.js";
import type { Emit } from "./events.js";
import type { DeployResult } from "./outcome.js";

/** The new release's build on this machine: what every host's upload (and a later rollback) copies. */
export async function inPlaceBuild(
  stage: ResolvedStage,
  id: string,
  hosts: readonly HostState[],
  emit: Emit,
): Promise<BuildCache> {
  // Refused targets are refused before anything is written, here too.
  for (const h of hosts) checkInPlaceTarget(h.host, h.facts);
  const cache = await listBuilds(stage);
  emit({ type: "phase", phase: `build ${id} on this machine (${cache.root})` });
  return createBuild(stage, id, cache);
}

/** After a deploy: a build nothing serves and builds beyond keep_builds go; whatever a host serves or could roll back to stays. */
export async function pruneInPlaceBuilds(plan: RunPlan, result: DeployResult, emit: Emit): Promise<void> {
  const keep = [
    ...plan.hosts.flatMap((h) => (h.previous ? [h.previous] : [])),
    ...result.hosts.flatMap((h) => (h.serving ? [h.serving] : [])),
  ];
  try {
    if (!keep.includes(plan.release)) await dropBuild(plan.stage, plan.release);
    await pruneBuilds(plan.stage, keep);
  } catch (error) {
    emit({ type: "warning", message: `could not remove old builds: ${(error as Error).message}` });
  }
}
