import type { ResolvedStage } from "../../src/config/resolve.js";
import { planDeploy } from "../../src/plan/deploy.js";
import type { HostFacts } from "../../src/plan/facts.js";
import { findLeftovers } from "../../src/plan/reconcile.js";

/** The deploy plan of a stage's first host from its facts: a plain source, fixed id, user and clock. */
export function firstHostDeployPlan(stage: ResolvedStage, facts: HostFacts) {
  return planDeploy({
    stage,
    host: stage.hosts[0]!,
    facts,
    leftovers: findLeftovers(facts, "now"),
    source: { revision: null, paths: new Map() },
    releaseId: "20261127T110000Z",
    who: "me@here",
    now: "now",
    among: stage.hosts,
  });
}
