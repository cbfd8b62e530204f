import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT } from "../errors.js";
import { hookCmds } from "../plan/hooks.js";
import { afterCleanup, findLeftovers, leftoverCmds } from "../plan/reconcile.js";
import { appendHistory, writeMeta } from "../plan/records.js";
import { type ReleaseMeta, revisionText } from "../plan/release-meta.js";
import { rollbackTarget } from "../plan/select.js";
import type { Emit } from "./events.js";
import { historyEntry, softHooks } from "./finalize.js";
import { type LockedTarget, lockAll, newOwner, unlockAll } from "./lock.js";
import type { DeployResult, HostOutcome } from "./outcome.js";
import { refuseUnsafeReload, resetAndVerify } from "./php-runtime.js";
import { whoAmI } from "./source.js";
import { runStep } from "./steps.js";
import { skewMs, switchAll, switchBack } from "./switch.js";
import { openTargets, selectHosts } from "./targets.js";

export interface RollbackOptions {
  readonly stage: ResolvedStage;
  readonly hosts?: readonly string[];
  readonly to?: string;
  readonly force?: boolean;
  readonly lockWaitSeconds?: number;
  readonly emit: Emit;
  readonly command: string;
}

interface HostRollback {
  readonly t: LockedTarget;
  readonly live: string;
  readonly target: string;
  readonly metas: Map<string, ReleaseMeta>;
}

/** Decides the target on every host first; all must agree and have it, or nothing is switched. */
export function chooseTargets(
  locked: readonly LockedTarget[],
  to: string | undefined,
  force: boolean,
  now: string,
): HostRollback[] {
  const choices = locked.map((t) => {
    const { metas, dirs } = afterCleanup(t.facts, findLeftovers(t.facts, now));
    const live = t.facts.current.kind === "link" ? t.facts.current.release : undefined;
    const target = rollbackTarget(t.host.name, metas, live, to, force);
    if (!dirs.includes(target))
      throw new CutoverError("rollback", `${t.host.name}: release ${target} has no files on this host`);
    return { t, live: live!, target, metas };
  });
  const targets = new Set(choices.map((c) => c.target));
  if (targets.size > 1) {
    throw new CutoverError(
      "rollback",
      `hosts disagree on the release to roll back to: ${choices.map((c) => `${c.t.host.name} → ${c.target}`).join(", ")}`,
      {
        fix: "name one with --to ID (it must exist and be good on every host)",
        exitCode: EXIT.failed,
      },
    );
  }
  return choices;
}

export async function rollback(options: RollbackOptions): Promise<DeployResult> {
  const { stage, emit } = options;
  const started = new Date();
  const who = whoAmI();
  const targets = openTargets(stage, selectHosts(stage, options.hosts));
  const owner = newOwner(who, options.command, started);
  try {
    const locked = await lockAll(targets, {
      sharedPaths: [],
      owner,
      waitMs: (options.lockWaitSeconds ?? 0) * 1000,
      emit,
    });
    try {
      const choices = chooseTargets(locked, options.to, options.force ?? false, started.toISOString());
      await refuseUnsafeReload(locked, stage, options.force ?? false, emit);
      const release = choices[0]!.target;
      emit({
        type: "phase",
        phase: `switch ${locked.length} host${locked.length === 1 ? "" : "s"} back to ${release}`,
      });
      for (const c of choices) {
        const cleanup = leftoverCmds(c.t.layout, findLeftovers(c.t.facts, started.toISOString()));
        if (cleanup.length > 0)
          await runStep({ executor: c.t.executor, emit }, "clean up what an interrupted run left", cleanup);
      }
      const outcomes = await switchAll(locked, release, emit);
      const failed = outcomes.find((o) => !o.ok);
      const base = {
        release,
        stage: stage.name,
        who,
        previous: choices[0]!.live,
        revision: revisionText(choices[0]!.metas.get(release)?.revision),
        durationMs: 0,
        filesTransferred: 0,
        bytesTransferred: 0,
        warnings: [] as string[],
      };
      if (failed) {
        const hosts: HostOutcome[] = [];
        for (const [i, o] of outcomes.entries()) {
          const live = choices[i]!.live;
          const back = o.ok && (await switchBack(o.target, release, live, emit));
          hosts.push({
            host: o.target.host.name,
            state: o.ok ? "switched-back" : "unchanged",
            serving: o.ok && !back ? release : live,
          });
          await runStep({ executor: o.target.executor, emit }, "record", [
            appendHistory(
              o.target.layout,
              historyEntry(
                "rollback",
                o.target,
                choices[i]!.metas.get(release)!,
                live,
                "failed",
                failed.error?.message ?? null,
                started,
              ),
            ),
          ]).catch(() => undefined);
        }
        return {
          ...base,
          ok: false,
          exitCode: EXIT.failed,
          durationMs: Date.now() - started.getTime(),
          hosts,
          switchSkewMs: skewMs(outcomes),
          error: { message: failed.error?.message ?? "switch failed", detail: [] },
        };
      }

      const reason = `rolled back to ${release} by ${who}`;
      const warnings: string[] = [];
      for (const c of choices) {
        await resetAndVerify(c.t, stage, release, emit).catch((e: Error) => warnings.push(e.message));
      }
      await Promise.all(
        choices.map(async (c) => {
          const l = c.t.layout;
          const targetMeta: ReleaseMeta = { ...c.metas.get(release)!, state: "live" };
          const old = c.metas.get(c.live);
          await runStep({ executor: c.t.executor, emit }, "record rollback", [
            ...writeMeta(l, targetMeta),
            ...(old ? writeMeta(l, { ...old, state: "rolled-back", reason }) : []),
            appendHistory(l, historyEntry("rollback", c.t, targetMeta, c.live, "ok", null, started)),
          ]).catch((error: Error) =>
            warnings.push(`${c.t.host.name}: could not record the rollback: ${error.message}`),
          );
          const scope = {
            stage,
            host: c.t.host,
            among: locked.map((t) => t.host),
            layout: l,
            release,
            previous: c.live,
          };
          warnings.push(
            ...(await softHooks(
              c.t,
              "after_rollback hook",
              hookCmds(scope, "after_rollback", l.release(release)),
              emit,
            )),
          );
        }),
      );
      const hosts: HostOutcome[] = choices.map((c) => ({
        host: c.t.host.name,
        state: "live",
        serving: release,
      }));
      return {
        ...base,
        ok: true,
        exitCode: warnings.length > 0 ? EXIT.degraded : EXIT.ok,
        durationMs: Date.now() - started.getTime(),
        hosts,
        switchSkewMs: skewMs(outcomes),
        warnings,
      };
    } finally {
      await unlockAll(locked, owner, emit);
    }
  } finally {
    await targets.close();
  }
}
