import type { ResolvedStage } from "../config/resolve.js";
import { type HostDeployPlan, planDeploy } from "../plan/deploy.js";
import { hookCmds } from "../plan/hooks.js";
import { layout } from "../plan/layout.js";
import { afterCleanup, findLeftovers } from "../plan/reconcile.js";
import { nextReleaseId } from "../plan/release-id.js";
import { selectPrune } from "../plan/select.js";
import { switchTo } from "../plan/switch.js";
import type { Cmd } from "../shell/cmd.js";
import { readFacts } from "./lock.js";
import { chooseTargets } from "./rollback.js";
import { sourceFacts, whoAmI } from "./source.js";
import { openTargets, selectHosts } from "./targets.js";

export interface DryRunHost {
  readonly host: string;
  readonly plan?: HostDeployPlan;
  readonly switchCmd: Cmd;
  readonly after: readonly Cmd[];
  readonly prune: readonly string[];
}

export interface DryRun {
  readonly action: "deploy" | "rollback";
  readonly release: string;
  readonly hosts: readonly DryRunHost[];
}

/** The exact plan a deploy would run, from a read-only look at every host. Changes nothing. */
export async function dryRunDeploy(stage: ResolvedStage, hosts?: readonly string[]): Promise<DryRun> {
  const targets = openTargets(stage, selectHosts(stage, hosts));
  try {
    const sharedPaths = [...stage.sharedDirs, ...stage.sharedFiles];
    const facts = await Promise.all(targets.map((t) => readFacts(t, sharedPaths)));
    const started = new Date();
    const now = started.toISOString();
    const release = nextReleaseId(
      started,
      facts.flatMap((f) => [...f.releaseDirs, ...f.metas.keys()]),
    );
    const source = sourceFacts(stage);
    return {
      action: "deploy",
      release,
      hosts: targets.map((t, i) => {
        const f = facts[i]!;
        const leftovers = findLeftovers(f, now);
        const plan = planDeploy({
          stage,
          host: t.host,
          facts: f,
          leftovers,
          source,
          releaseId: release,
          who: whoAmI(),
          now,
          among: targets.map((x) => x.host),
        });
        const { metas, dirs } = afterCleanup(f, leftovers);
        metas.set(release, { ...plan.meta, state: "live" });
        const l = plan.layout;
        return {
          host: t.host.name,
          plan,
          switchCmd: switchTo(l, release),
          after: hookCmds(plan.hooks, "after_switch", l.release(release)),
          prune: selectPrune(metas, [...dirs, release], release, stage.keepReleases),
        };
      }),
    };
  } finally {
    await targets.close();
  }
}

export async function dryRunRollback(
  stage: ResolvedStage,
  options: { hosts?: readonly string[]; to?: string; force?: boolean },
): Promise<DryRun> {
  const targets = openTargets(stage, selectHosts(stage, options.hosts));
  try {
    const read = await Promise.all(
      targets.map(async (t) => ({ ...t, layout: layout(t.host.path), facts: await readFacts(t, []) })),
    );
    const choices = chooseTargets(read, options.to, options.force ?? false, new Date().toISOString());
    const release = choices[0]!.target;
    return {
      action: "rollback",
      release,
      hosts: choices.map((c) => ({
        host: c.t.host.name,
        switchCmd: switchTo(c.t.layout, release),
        after: hookCmds(
          {
            stage,
            host: c.t.host,
            among: read.map((r) => r.host),
            layout: c.t.layout,
            release,
            previous: c.live,
          },
          "after_rollback",
          c.t.layout.release(release),
        ),
        prune: [],
      })),
    };
  } finally {
    await targets.close();
  }
}
