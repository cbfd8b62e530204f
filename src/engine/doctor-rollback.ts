import type { ResolvedStage } from "../config/resolve.js";
import type { HostFacts } from "../plan/facts.js";
import type { Layout } from "../plan/layout.js";
import { afterCleanup, findLeftovers, liveRelease } from "../plan/reconcile.js";
import { previousGood } from "../plan/select.js";
import { checkRelease } from "./release-check.js";
import { breaking } from "./rollback-check.js";
import type { Target } from "./targets.js";

type Add = (level: "error" | "warning", check: string, message: string, fix: string) => void;

/**
 * The release `cutover rollback` would switch to, checked as the rollback checks it: found out now,
 * not in the emergency it is meant for.
 */
export async function rollbackTargetFindings(
  t: Target,
  stage: ResolvedStage,
  facts: HostFacts,
  l: Layout,
  add: Add,
): Promise<void> {
  const live = liveRelease(facts);
  if (stage.strategy === "in-place" || live === undefined) return;
  const { metas, dirs } = afterCleanup(facts, findLeftovers(facts, new Date().toISOString()));
  const target = previousGood(metas, live);
  if (target === undefined || !dirs.includes(target)) return;
  const excluded = stage.writableDirs.map((w) => w.path);
  const check = await checkRelease(
    { executor: t.executor, emit: () => undefined },
    l,
    metas.get(target)!,
    excluded,
    true,
  );
  const stop = breaking(check, excluded);
  if (stop)
    add(
      "warning",
      "rollback",
      `the rollback target ${target} is not as it was deployed: ${stop.summary}; \`cutover rollback\` would refuse it`,
      "a file it shares with the live release through a hard link was edited in place, or removed: deploy the version you need so the next rollback has a good target, or see `cutover rollback --help` (--to, --no-verify)",
    );
}
