import type { ResolvedHost, ResolvedStage, Rolling } from "../config/resolve.js";
import type { Cmd } from "../shell/cmd.js";
import { type BatchDrain, drainBatchCap, planDrains } from "./balancer.js";
import { type HostDeployPlan, planDeploy, type SourceFacts } from "./deploy.js";
import type { HostFacts } from "./facts.js";
import { type HookScope, hookCmds } from "./hooks.js";
import type { InPlaceSwitch } from "./in-place.js";
import type { Layout } from "./layout.js";
import { afterCleanup, findLeftovers, type Leftovers, leftoverCmds } from "./reconcile.js";
import type { ReleaseMeta } from "./release-meta.js";
import { selectPrune } from "./select.js";
import { type SnapshotState, snapshotAndPrune, snapshotInput } from "./snapshot-plan.js";
import type { Step } from "./steps.js";
import { restoreCurrent, switchTo } from "./switch.js";

/** One host's part of a run: every command it will get, and the undo of the switch. */
export interface HostRun {
  readonly host: ResolvedHost;
  readonly layout: Layout;
  /** The release `current` resolves to before the run (what a switch back serves again). */
  readonly previous: string | undefined;
  readonly leftovers: Leftovers;
  /** Removes what interrupted runs left (under the lock, before anything else). */
  readonly clean: readonly Cmd[];
  /** Deploy with snapshots.before_deploy: a snapshot of shared/, then snapshots beyond keep removed. */
  readonly snapshot: readonly Cmd[];
  /** Rollback --restore-shared: shared/ back as it was before the release rolled back from was deployed. */
  readonly restoreShared: readonly Cmd[];
  /** Builds the new release (deploy only). */
  readonly prepare: readonly Step[];
  readonly switchTo: Cmd;
  /** strategy: in-place: `switchTo` only marks the time; this upload is the switch (and its undo). */
  readonly inPlace?: InPlaceSwitch;
  /** The undo of the switch: `current` exactly as it was (its old link text, or no link). */
  readonly switchBack: Cmd;
  /** The switched-to release's metadata as it is before the run (deploy: `preparing`). */
  readonly meta: ReleaseMeta;
  /** The previously live release's metadata, once leftovers are cleaned up. */
  readonly previousMeta: ReleaseMeta | undefined;
  readonly hooks: HookScope;
  /** before_batch / after_batch hooks of this host's batch (CUTOVER_BATCH, CUTOVER_BATCH_HOSTS set). */
  readonly beforeBatch: readonly Cmd[];
  readonly afterBatch: readonly Cmd[];
  /** after_switch (deploy) or after_rollback (rollback) hooks, in the new release. */
  readonly after: readonly Cmd[];
  /** Deploy only: after_rollback hooks in the previous release, when a failed health check switches back. */
  readonly afterSwitchBack: readonly Cmd[];
  /** Deploy only: on_failure hooks, run in the deploy path when the release will not serve. */
  readonly onFailure: readonly Cmd[];
  /** Releases removed once the new one is live. */
  readonly prune: readonly string[];
}

export type Phase =
  | { readonly kind: "clean" }
  /** A failed snapshot stops the deploy before anything is uploaded (shared/ is only read). */
  | { readonly kind: "snapshot" }
  /** Rollback: the release switched to is compared with its manifest on every host first. */
  | { readonly kind: "check" }
  | { readonly kind: "prepare" }
  | {
      readonly kind: "switch";
      /** Host names per batch: one batch switches every host at once. */
      readonly batches: readonly (readonly string[])[];
      readonly pauseSeconds: number;
      /**
       * Behind a balancer, per batch: its servers out of service until their sessions end, then the
       * switch, the PHP reset and the health check of that batch alone, then back in service.
       */
      readonly drains?: readonly BatchDrain[];
      readonly switchBackOnFailure?: boolean;
    }
  | { readonly kind: "php-reset" }
  /** After the switch back: a failure is a warning (exit 4); shared/ is then untouched. */
  | { readonly kind: "restore-shared" }
  /** A deploy switches back on failure; a rollback (an emergency, by choice) warns and stays. */
  | { readonly kind: "health"; readonly switchBackOnFailure: boolean }
  | { readonly kind: "record" }
  | {
      readonly kind: "after";
      readonly hook: "after_switch" | "after_rollback";
      readonly switchBackOnFailure: boolean;
    }
  | { readonly kind: "prune" };

/**
 * A whole deploy or rollback as a value: its phases in order, and each host's commands. The same
 * plan is rendered by --dry-run and applied by the engine; undo is part of it (each host's
 * `switchBack`, `onFailure`, `afterSwitchBack`).
 */
export interface RunPlan {
  readonly action: "deploy" | "rollback";
  readonly stage: ResolvedStage;
  readonly release: string;
  readonly hosts: readonly HostRun[];
  readonly phases: readonly Phase[];
}

export interface HostState {
  readonly host: ResolvedHost;
  readonly facts: HostFacts;
}

/** Hosts per rolling batch: a count, or a percentage of the hosts rounded up; at least 1. */
export function batchSize(rolling: Rolling, hosts: number): number {
  const size =
    typeof rolling.batch === "number"
      ? rolling.batch
      : Math.ceil((Number.parseInt(rolling.batch, 10) / 100) * hosts);
  return Math.min(Math.max(size, 1), hosts);
}

/** A rolling stage behind a balancer takes each batch out of service while it switches. */
export function drains(stage: ResolvedStage): boolean {
  return stage.rolling !== undefined && stage.balancer !== undefined;
}

function batchesOf(stage: ResolvedStage, names: readonly string[]): string[][] {
  const rolled = stage.rolling ? batchSize(stage.rolling, names.length) : names.length;
  const size = drains(stage) ? Math.min(rolled, drainBatchCap(stage.balancer!, names.length)) : rolled;
  const out: string[][] = [];
  for (let i = 0; i < names.length; i += size) out.push(names.slice(i, i + size));
  return out;
}

/** The batch hooks of each host, with its batch's number and hosts in the environment. */
export function withBatchHooks(
  stage: ResolvedStage,
  hosts: readonly Omit<HostRun, "beforeBatch" | "afterBatch">[],
  release: string,
): HostRun[] {
  const batches = batchesOf(
    stage,
    hosts.map((h) => h.host.name),
  );
  return hosts.map((h) => {
    const i = batches.findIndex((b) => b.includes(h.host.name));
    const scope = {
      ...h.hooks,
      extraEnv: { CUTOVER_BATCH: String(i + 1), CUTOVER_BATCH_HOSTS: batches[i]!.join(",") },
    };
    const cwd = h.layout.release(release);
    return {
      ...h,
      beforeBatch: stage.rolling ? hookCmds(scope, "before_batch", cwd) : [],
      afterBatch: stage.rolling ? hookCmds(scope, "after_batch", cwd) : [],
    };
  });
}

export function switchPhases(
  stage: ResolvedStage,
  hosts: readonly HostState[],
  action: RunPlan["action"],
  restoreShared = false,
): Phase[] {
  const batches = batchesOf(
    stage,
    hosts.map((h) => h.host.name),
  );
  const pauseSeconds = stage.rolling?.pauseSeconds ?? 0;
  if (drains(stage))
    return [
      {
        kind: "switch",
        batches,
        pauseSeconds,
        drains: planDrains(stage.balancer!, batches),
        switchBackOnFailure: action === "deploy",
      },
      ...(restoreShared ? [{ kind: "restore-shared" } as const] : []),
      { kind: "record" },
    ];
  return [
    { kind: "switch", batches, pauseSeconds },
    { kind: "php-reset" },
    ...(restoreShared ? [{ kind: "restore-shared" } as const] : []),
    ...(stage.healthCheck ? [{ kind: "health", switchBackOnFailure: action === "deploy" } as const] : []),
    { kind: "record" },
  ];
}

/**
 * The undo of a switch on one host: `current` back exactly as it was. A link text that is not
 * UTF-8 came here with U+FFFD for its bad bytes and would be put back dangling: the path it
 * resolved to (same place) is put back instead.
 */
export function undoOf(l: Layout, facts: HostFacts, switchedTo: string): Cmd {
  const c = facts.current;
  const lossy = (t: string) => t.includes("\uFFFD");
  const previous =
    c.kind !== "link"
      ? undefined
      : lossy(c.target) && c.resolved && !lossy(c.resolved)
        ? c.resolved
        : c.target;
  return restoreCurrent(l, previous, switchedTo);
}

export interface DeployRunInput {
  readonly stage: ResolvedStage;
  readonly hosts: readonly HostState[];
  /** Read when snapshots.before_deploy is set: a snapshot is then taken before anything is uploaded. */
  readonly snapshots?: SnapshotState;
  readonly source: SourceFacts;
  readonly releaseId: string;
  readonly who: string;
  readonly now: string;
}

/** [snapshot] -> prepare everywhere -> barrier -> switch (at once, or in batches) -> reset -> health -> record -> after_switch -> prune. */
export function planDeployRun(input: DeployRunInput): RunPlan {
  const { stage, releaseId: id } = input;
  const among = input.hosts.map((h) => h.host);
  const hosts = input.hosts.map(({ host, facts }) => {
    const leftovers = findLeftovers(facts, input.now);
    const plan: HostDeployPlan = planDeploy({ ...input, host, facts, leftovers, among });
    const l = plan.layout;
    const { metas, dirs } = afterCleanup(facts, leftovers);
    const previousMeta = plan.previous ? metas.get(plan.previous) : undefined;
    const afterPrune = new Map(metas);
    afterPrune.set(id, { ...plan.meta, state: "live" });
    if (previousMeta) afterPrune.set(previousMeta.id, { ...previousMeta, state: "superseded" });
    return {
      host,
      layout: l,
      previous: plan.previous,
      leftovers,
      clean: leftoverCmds(l, leftovers),
      // A first deploy has no shared/ yet: nothing to snapshot.
      snapshot:
        input.snapshots && input.snapshots.facts.get(host.name)?.shared !== "missing"
          ? snapshotAndPrune(
              {
                ...snapshotInput(stage, host, input.snapshots, input.who, input.now, plan.previous),
                reason: "before-deploy",
                release: id,
              },
              stage.snapshots.keep,
            )
          : [],
      restoreShared: [],
      prepare: plan.prepare,
      switchTo: switchTo(l, id),
      switchBack: undoOf(l, facts, id),
      meta: plan.meta,
      previousMeta,
      hooks: plan.hooks,
      after: hookCmds(plan.hooks, "after_switch", l.release(id)),
      afterSwitchBack: plan.previous
        ? hookCmds(
            { ...plan.hooks, release: plan.previous, previous: id },
            "after_rollback",
            l.release(plan.previous),
          )
        : [],
      onFailure: hookCmds(plan.hooks, "on_failure", l.root),
      prune: selectPrune(afterPrune, [...dirs, id], id, stage.keepReleases, facts.foreign),
    };
  });
  return deployPlan(input, hosts, true);
}

/** A deploy's phases around its hosts' parts, whatever the strategy; `prune` when releases are kept on the hosts. */
export function deployPlan(
  input: Pick<DeployRunInput, "stage" | "hosts" | "releaseId" | "snapshots">,
  hosts: readonly Omit<HostRun, "beforeBatch" | "afterBatch">[],
  prune: boolean,
): RunPlan {
  const { stage, releaseId: id } = input;
  return {
    action: "deploy",
    stage,
    release: id,
    hosts: withBatchHooks(stage, hosts, id),
    phases: [
      { kind: "clean" },
      ...(input.snapshots ? [{ kind: "snapshot" } as const] : []),
      { kind: "prepare" },
      ...switchPhases(stage, input.hosts, "deploy"),
      { kind: "after", hook: "after_switch", switchBackOnFailure: stage.rollbackOn.includes("after_switch") },
      ...(prune ? [{ kind: "prune" } as const] : []),
    ],
  };
}
