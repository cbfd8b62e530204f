import path from "node:path/posix";
import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT } from "../errors.js";
import type { Cmd } from "../shell/cmd.js";
import type { HostFacts } from "./facts.js";
import { type HookScope, hookCmds } from "./hooks.js";
import { markBeforeUpload, measureWindow } from "./in-place-paths.js";
import { prepareSteps } from "./in-place-prepare.js";
import { checkInPlaceTarget, liveInPlace } from "./in-place-target.js";
import { type Layout, layout } from "./layout.js";
import { afterCleanup, findLeftovers, type Leftovers, leftoverCmds } from "./reconcile.js";
import type { ReleaseMeta } from "./release-meta.js";
import { type RollbackRunInput, rollbackPlan } from "./rollback-run.js";
import type { DeployRunInput, HostRun, HostState, RunPlan } from "./run.js";
import { deployPlan } from "./run.js";
import { rollbackTarget } from "./select.js";
import { restoreSharedCmds, snapshotAndPrune, snapshotInput } from "./snapshot-plan.js";
import type { Transfer } from "./steps.js";

/** Builds kept on the deploying machine (one directory per release id under `root`). */
export interface BuildCache {
  readonly root: string;
  readonly ids: readonly string[];
}

/** How an in-place host switches: the upload is the switch, and its undo is another upload. */
export interface InPlaceSwitch {
  /** rsync --delay-updates --delete-delay of the build into `current/` (after `switchTo`, the time mark). */
  readonly upload: Transfer;
  /** Lists what changed since the mark, for the window in which a request could see a mix. */
  readonly measure: Cmd;
  /** Paths inside `current/` that the upload never touches (shared and writable). */
  readonly untouched: readonly string[];
  /** The same upload of the build that was live; none on a first deploy or when it is not kept here. */
  readonly undo: Transfer | undefined;
}

/** Hooks and `sync` see the live directory as "the release": there is no other. */
function inPlaceLayout(root: string): Layout {
  const l = layout(root);
  return { ...l, release: () => l.current };
}

/**
 * Metadata without a release directory is normal here. Leftovers are cutover's own temporary names,
 * and a release a killed run left preparing or ready (read under the lock, so no run is working on
 * it): its upload may have begun and it was never verified, so it is marked failed, never picked by
 * a rollback.
 */
function leftoversOf(facts: HostFacts, now: string): Leftovers {
  const { tmp, clockProbes } = findLeftovers(facts, now);
  const fixes = [...facts.metas.values()]
    .filter((m) => m.state === "preparing" || m.state === "ready")
    .map(
      (m): ReleaseMeta => ({
        ...m,
        state: "failed",
        finished_at: now,
        reason: "the run was interrupted before this release was recorded live",
      }),
    );
  return { incomplete: [], orphanMetas: [], fixes, tmp, clockProbes };
}

function upload(stage: ResolvedStage, builds: BuildCache, id: string, l: Layout): Transfer {
  return {
    from: path.join(builds.root, id),
    to: l.current,
    directory: true,
    linkDest: [],
    exclude: [...stage.exclude, ...untouched(stage).map((p) => `/${p}`)],
    compare: stage.uploadCompare,
    live: true,
  };
}

function untouched(stage: ResolvedStage): string[] {
  return [...stage.sharedDirs, ...stage.sharedFiles, ...stage.writableDirs.map((w) => w.path)];
}

function inPlaceSwitch(
  stage: ResolvedStage,
  builds: BuildCache,
  id: string,
  undoId: string | undefined,
  l: Layout,
): InPlaceSwitch {
  return {
    upload: upload(stage, builds, id, l),
    measure: measureWindow(l.current, l.root, untouched(stage)),
    untouched: untouched(stage),
    undo: undoId && builds.ids.includes(undoId) ? upload(stage, builds, undoId, l) : undefined,
  };
}

/** Deploy: prepare (directories, metadata, links) -> barrier -> the delayed-update upload -> reset -> health -> record -> after_switch. */
export function planInPlaceDeployRun(input: DeployRunInput & { readonly builds: BuildCache }): RunPlan {
  const { stage, releaseId: id } = input;
  const among = input.hosts.map((h) => h.host);
  const hosts = input.hosts.map(({ host, facts }): Omit<HostRun, "beforeBatch" | "afterBatch"> => {
    checkInPlaceTarget(host, facts);
    const l = inPlaceLayout(host.path);
    const previous = liveInPlace(facts);
    const hooks: HookScope = { stage, host, among, layout: l, release: id, previous };
    const meta: ReleaseMeta = {
      id,
      state: "preparing",
      stage: stage.name,
      who: input.who,
      revision: input.source.revision,
      started_at: input.now,
    };
    const leftovers = leftoversOf(facts, input.now);
    return {
      host,
      layout: l,
      previous,
      leftovers,
      clean: leftoverCmds(l, leftovers),
      // As with releases: a first deploy has no shared/ to snapshot yet.
      snapshot:
        input.snapshots && input.snapshots.facts.get(host.name)?.shared !== "missing"
          ? snapshotAndPrune(
              {
                ...snapshotInput(stage, host, input.snapshots, input.who, input.now, previous),
                reason: "before-deploy",
                release: id,
              },
              stage.snapshots.keep,
            )
          : [],
      restoreShared: [],
      prepare: prepareSteps(stage, host, facts, input, meta, l),
      switchTo: markBeforeUpload(l.root),
      switchBack: markBeforeUpload(l.root),
      inPlace: inPlaceSwitch(stage, input.builds, id, previous, l),
      meta,
      previousMeta: previous ? facts.metas.get(previous) : undefined,
      hooks,
      after: hookCmds(hooks, "after_switch", l.current),
      afterSwitchBack: previous
        ? hookCmds({ ...hooks, release: previous, previous: id }, "after_rollback", l.current)
        : [],
      onFailure: hookCmds(hooks, "on_failure", l.root),
      prune: [],
    };
  });
  // Builds live on the deploying machine: nothing to prune on the hosts.
  return deployPlan(input, hosts, false);
}

/** Rollback: the same upload, of the kept build of the target release; every host must agree on it. */
export function planInPlaceRollbackRun(input: RollbackRunInput & { readonly builds: BuildCache }): RunPlan {
  const { stage, builds } = input;
  const among = input.hosts.map((h) => h.host);
  const chosen = input.hosts.map(({ host, facts }: HostState) => {
    checkInPlaceTarget(host, facts);
    const live = liveInPlace(facts);
    const leftovers = leftoversOf(facts, input.now);
    const { metas } = afterCleanup(facts, leftovers);
    return {
      host,
      metas,
      leftovers,
      live: live!,
      target: rollbackTarget(host.name, metas, live, input.to, input.force, true),
    };
  });
  const targets = new Set(chosen.map((c) => c.target));
  if (targets.size > 1)
    throw new CutoverError(
      "rollback",
      `hosts disagree on the release to roll back to: ${chosen.map((c) => `${c.host.name} → ${c.target}`).join(", ")}`,
      {
        fix: "name one with --to ID (it must exist and be good on every host)",
        exitCode: EXIT.failed,
      },
    );
  const release = chosen[0]!.target;
  if (!builds.ids.includes(release))
    throw new CutoverError(
      "rollback",
      `the build of release ${release} is not kept on this machine (${builds.root})`,
      {
        fix: `roll back from the machine that deployed it, or --to one of: ${builds.ids.join(", ") || "(none kept)"}`,
        exitCode: EXIT.failed,
      },
    );
  const hosts = chosen.map(
    ({ host, metas, leftovers, live }): Omit<HostRun, "beforeBatch" | "afterBatch"> => {
      const l = inPlaceLayout(host.path);
      const hooks: HookScope = { stage, host, among, layout: l, release, previous: live };
      return {
        host,
        layout: l,
        previous: live,
        leftovers,
        clean: leftoverCmds(l, leftovers),
        snapshot: [],
        restoreShared: input.restoreShared
          ? restoreSharedCmds(stage, host, live, input.restoreShared, input.now)
          : [],
        prepare: [],
        switchTo: markBeforeUpload(l.root),
        switchBack: markBeforeUpload(l.root),
        inPlace: inPlaceSwitch(stage, builds, release, live, l),
        meta: metas.get(release)!,
        // The live build uploaded again: no other release to mark rolled back from.
        previousMeta: release === live ? undefined : metas.get(live),
        hooks,
        after: hookCmds(hooks, "after_rollback", l.current),
        afterSwitchBack: [],
        onFailure: [],
        prune: [],
      };
    },
  );
  return rollbackPlan(input, release, hosts);
}
