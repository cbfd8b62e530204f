import { requireReleasesStrategy } from "../config/in-place-rules.js";
import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT } from "../errors.js";
import {
  type AdoptPlan,
  adoptProbe,
  migrateCurrent,
  migratedId,
  parseAdoptFacts,
  planAdopt,
} from "../plan/adopt.js";
import { layout as layoutOf } from "../plan/layout.js";
import { appendHistory, pathEntry, writeMeta } from "../plan/records.js";
import type { ReleaseMeta } from "../plan/release-meta.js";
import type { Emit } from "./events.js";
import { onEveryHost } from "./every-host.js";
import { type LockedTarget, lockAll, newOwner, readFacts, unlockAll } from "./lock.js";
import { whoAmI } from "./source.js";
import { runStep } from "./steps.js";
import { openTargets, selectHosts } from "./targets.js";

export interface AdoptRow {
  readonly host: string;
  readonly tool: string;
  readonly adopted: readonly string[];
  readonly linked: readonly string[];
  readonly skipped: readonly string[];
  /** The old current directory a killed --migrate left in .cutover/tmp became current.before-cutover. */
  readonly movedLeftover: boolean;
  /** Adopted releases newer than the live one: recorded failed (never went live). */
  readonly failed: readonly string[];
  /** The id `current` (a real directory before) got, when --migrate turned it into a release. */
  readonly migrated: string | null;
}

const rowOf = (plan: AdoptPlan, migrated: string | null): AdoptRow => ({
  host: plan.host.name,
  tool: migrated && plan.tool === "none" ? "manual" : plan.tool,
  adopted: [...(migrated ? [migrated] : []), ...plan.adopted.map((m) => m.id)],
  linked: plan.linked,
  skipped: plan.skipped,
  movedLeftover: plan.movesLeftover,
  failed: plan.adopted.filter((m) => m.state === "failed").map((m) => m.id),
  migrated,
});

/**
 * Takes over a deploy path another tool (Capistrano, Deployer, Envoyer) or a person made: records
 * its releases so rollback and keep_releases know them, links shared data kept elsewhere, and with
 * `migrate` turns a `current` directory into a release without downtime. Under the lock; with
 * dryRun, only says what it would do.
 */
export async function adopt(
  stage: ResolvedStage,
  options: {
    hosts?: readonly string[];
    emit: Emit;
    command: string;
    lockWaitSeconds?: number;
    migrate?: boolean;
    dryRun?: boolean;
  },
): Promise<AdoptRow[]> {
  requireReleasesStrategy(stage, "adopt");
  const { emit } = options;
  const sharedPaths = [...stage.sharedDirs, ...stage.sharedFiles];
  const targets = openTargets(stage, selectHosts(stage, options.hosts));
  const who = whoAmI();
  const started = new Date();
  const inspect = async (t: { host: LockedTarget["host"]; executor: LockedTarget["executor"] }) => {
    const { stdout } = await runStep({ executor: t.executor, emit }, "read the layout", [
      adoptProbe(t.host.path, sharedPaths),
    ]);
    return parseAdoptFacts(stdout.toString("utf8"));
  };
  try {
    if (options.dryRun) {
      return await onEveryHost(targets, async (t) => {
        const facts = await readFacts(t, sharedPaths);
        const found = await inspect(t);
        const plan = planAdopt(stage, t.host, layoutOf(t.host.path), facts, found, who);
        return rowOf(
          plan,
          found.currentDir !== undefined && options.migrate ? migratedId(found.currentDir) : null,
        );
      });
    }
    const owner = newOwner(who, options.command, started);
    const locked = await lockAll(targets, {
      sharedPaths,
      owner,
      waitMs: (options.lockWaitSeconds ?? 0) * 1000,
      emit,
    });
    try {
      const found = await onEveryHost(locked, inspect);
      for (const [i, f] of found.entries()) {
        if (f.currentDir !== undefined && !options.migrate)
          throw new CutoverError(
            "adopt",
            `${locked[i]!.host.name}: ${locked[i]!.layout.current} is a real directory`,
            {
              fix: "pass --migrate: it becomes a release and `current` a link to it in one atomic step",
              state: "nothing was changed",
              exitCode: EXIT.usage,
            },
          );
      }
      return await onEveryHost(locked, async (t, i) => {
        const f = found[i]!;
        const l = t.layout;
        const plan = planAdopt(stage, t.host, l, t.facts, f, who);
        let migrated: string | null = null;
        if (f.currentDir !== undefined) {
          migrated = migratedId(f.currentDir);
          const meta: ReleaseMeta = {
            id: migrated,
            state: "preparing",
            stage: stage.name,
            who,
            revision: null,
            started_at: new Date(f.currentDir * 1000).toISOString(),
            adopted: { tool: "manual" },
          };
          await runStep({ executor: t.executor, emit }, "turn current into a release", [
            migrateCurrent(l, meta),
          ]);
          await runStep({ executor: t.executor, emit }, "record the migrated release", [
            ...writeMeta(l, { ...meta, state: "live" }),
          ]);
        }
        const row = rowOf(plan, migrated);
        await runStep({ executor: t.executor, emit }, "record the adopted releases", [
          ...plan.cmds,
          appendHistory(
            l,
            pathEntry({
              event: "adopt",
              outcome: "ok",
              stage: stage.name,
              host: t.host.name,
              who,
              at: new Date().toISOString(),
              duration_ms: Date.now() - started.getTime(),
              reason: `adopted ${row.adopted.length} release(s) made by ${row.tool}${row.linked.length > 0 ? `; linked shared ${row.linked.join(", ")}` : ""}`,
            }),
          ),
        ]);
        return row;
      });
    } finally {
      await unlockAll(locked, owner, emit);
    }
  } finally {
    await targets.close();
  }
}
