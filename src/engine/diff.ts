import { requireReleasesStrategy } from "../config/in-place-rules.js";
import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT } from "../errors.js";
import { diffManifests, type ReleaseDiff, readManifest } from "../plan/diff.js";
import { layout } from "../plan/layout.js";
import { afterCleanup, findLeftovers } from "../plan/reconcile.js";
import { previousGood } from "../plan/select.js";
import { onEveryHost } from "./every-host.js";
import { readFacts } from "./lock.js";
import { runStep } from "./steps.js";
import { openTargets, selectHosts } from "./targets.js";

export interface HostDiff extends ReleaseDiff {
  readonly host: string;
  readonly from: string;
  readonly to: string;
}

/**
 * Files added, changed and removed between two releases (default: the previous good release → the
 * live one), from the manifests recorded on each host: what a rollback would undo.
 */
export async function diffReleases(
  stage: ResolvedStage,
  options: { hosts?: readonly string[]; from?: string; to?: string },
): Promise<HostDiff[]> {
  requireReleasesStrategy(stage, "diff");
  const targets = openTargets(stage, selectHosts(stage, options.hosts));
  try {
    return await onEveryHost(targets, async (t) => {
      const facts = await readFacts(t, []);
      const { metas } = afterCleanup(facts, findLeftovers(facts, new Date().toISOString()));
      const live = facts.current.kind === "link" ? facts.current.release : undefined;
      const to = options.to ?? live;
      const from = options.from ?? (to ? previousGood(metas, to) : undefined);
      if (!from || !to) {
        // Say which end is missing: after a rollback to the oldest release there are two releases,
        // but none is a good one before the live one.
        const why = to ? `no good release before the live one (${to})` : "no live release";
        throw new CutoverError("diff", `${t.host.name}: nothing to compare: ${why}`, {
          fix: "pass FROM and TO release ids (see `cutover releases`)",
        });
      }
      // Only a release the host lists: an id is a path part of the manifest's name.
      for (const id of [from, to])
        if (!metas.has(id))
          throw new CutoverError("diff", `${t.host.name}: release ${id} does not exist`, {
            fix: "see `cutover releases` for the ids",
            exitCode: EXIT.usage,
          });
      const l = layout(t.host.path);
      const read = async (id: string) => {
        const r = await runStep({ executor: t.executor, emit: () => undefined }, `read manifest of ${id}`, [
          readManifest(l.releaseManifest(id)),
        ]).catch(() => {
          throw new CutoverError("diff", `${t.host.name}: release ${id} has no manifest`, {
            fix: "see `cutover releases` for ids",
          });
        });
        return r.stdout.toString("utf8");
      };
      const [a, b] = await Promise.all([read(from), read(to)]);
      return { host: t.host.name, from, to, ...diffManifests(a, b) };
    });
  } finally {
    await targets.close();
  }
}
