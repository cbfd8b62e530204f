/** cutover's own drains, told from an operator's by a mark on each host it took out (plan/drain-mark.ts). */
import type { ResolvedHost, ResolvedStage } from "../config/resolve.js";
import { CutoverError } from "../errors.js";
import type { BatchDrain, ServerState } from "../plan/balancer.js";
import { planDrains } from "../plan/balancer.js";
import { parseDrainMark, readDrainMark, removeDrainMark, writeDrainMark } from "../plan/drain-mark.js";
import { layout } from "../plan/layout.js";
import { type BalancerLink, describeBalancer } from "./balancer.js";
import type { Emit } from "./events.js";
import type { Unit } from "./finalize.js";
import { whoAmI } from "./source.js";
import { runStep, timed } from "./steps.js";
import { type ExecutorFactory, openTargets } from "./targets.js";

/** The state cutover's take-out leaves: anything else (maintenance, down) is not its drain. */
const OUT_BY_CUTOVER = new Set(["draining", "marked down"]);

/**
 * Of the hosts whose server is out of service, those a cutover run took out and never put back
 * (their mark names this balancer and server). Read only; the lock decides later that no run is
 * still at it.
 */
export async function ownDrainedHosts(
  stage: ResolvedStage,
  link: BalancerLink,
  out: readonly { host: ResolvedHost; state: ServerState }[],
  make?: ExecutorFactory,
): Promise<string[]> {
  const candidates = out.filter((o) => OUT_BY_CUTOVER.has(o.state.why ?? ""));
  if (candidates.length === 0) return [];
  const targets = openTargets(
    stage,
    candidates.map((c) => c.host),
    make,
  );
  try {
    const marked = await Promise.all(
      targets.map(async (t, i) => {
        const read = await t.executor.run([readDrainMark(layout(t.host.path))]).catch(() => undefined);
        const text = read?.code === 0 ? read.stdout.toString("utf8") : "";
        return parseDrainMark(text, describeBalancer(link.config), candidates[i]!.state.name);
      }),
    );
    return candidates.filter((_, i) => marked[i] !== undefined).map((c) => c.host.name);
  } finally {
    await targets.close();
  }
}

/** Before a batch goes out: each of its hosts records that cutover takes its server out. */
export async function markDrained(
  link: BalancerLink,
  group: readonly Unit[],
  emit: Emit,
  /** The hosts stay out on this release, which failed its checks (their switch back failed). */
  unchecked?: string,
): Promise<void> {
  const mark = {
    balancer: describeBalancer(link.config),
    at: new Date().toISOString(),
    who: whoAmI(),
    ...(unchecked ? { unchecked } : {}),
  };
  await Promise.all(
    group.map((u) =>
      runStep(
        { executor: u.t.executor, emit },
        "record the drain",
        writeDrainMark(u.t.layout, { ...mark, server: link.config.servers.get(u.t.host.name)! }),
      ),
    ),
  );
}

/** The batch is back in service: its marks go (a failure is a warning: the next run puts it back again). */
export async function unmarkDrained(group: readonly Unit[], emit: Emit): Promise<void> {
  await Promise.all(
    group.map((u) =>
      runStep({ executor: u.t.executor, emit }, "remove the drain mark", [removeDrainMark(u.t.layout)]).catch(
        (e: Error) => emit({ type: "warning", host: u.t.host.name, message: e.message }),
      ),
    ),
  );
}

/** Puts the batch back in service and, once it is, removes its marks; false (a warning) if it failed. */
export async function backInService(
  link: BalancerLink,
  drain: BatchDrain,
  group: readonly Unit[],
  emit: Emit,
): Promise<boolean> {
  const title = `put ${drain.servers.join(", ")} back in service`;
  try {
    await timed(emit, "balancer", title, () =>
      runStep({ executor: link.executor, emit }, title, [drain.ready]),
    );
  } catch (e) {
    emit({ type: "warning", message: `balancer: ${(e as Error).message}` });
    return false;
  }
  await unmarkDrained(group, emit);
  return true;
}

/**
 * Under the lock, before the first batch: the servers a stopped run of cutover left out of service
 * (link.ownDrained, marks read again now that no other run can hold these hosts) go back in service,
 * if their host serves a release that passed its checks. One that serves an unchecked release (the
 * run was killed after its switch) stays out: the error names it and nothing changes.
 */
export async function reclaimOwnDrains(
  link: BalancerLink,
  units: readonly Unit[],
  emit: Emit,
): Promise<void> {
  const b = link.config;
  const leftover = units.filter((u) => link.ownDrained?.includes(u.t.host.name));
  if (leftover.length === 0) return;
  const still = await Promise.all(
    leftover.map(async (u) => {
      const r = await runStep({ executor: u.t.executor, emit }, "read the drain mark", [
        readDrainMark(u.t.layout),
      ]);
      return parseDrainMark(r.stdout.toString("utf8"), describeBalancer(b), b.servers.get(u.t.host.name)!);
    }),
  );
  const group = leftover.filter((_, i) => still[i] !== undefined);
  if (group.length === 0) return;
  for (const u of group) {
    const current = u.t.facts.current;
    const release = current.kind === "link" ? current.release : undefined;
    const mark = still[leftover.indexOf(u)];
    if (!release || u.t.facts.metas.get(release)?.state !== "live" || mark?.unchecked === release)
      throw new CutoverError(
        "balancer",
        `balancer: host ${u.t.host.name}: server "${b.servers.get(u.t.host.name)}" was taken out by a cutover run that stopped after switching it to ${release ?? "no release"}, which no check passed`,
        {
          state: "nothing was switched: the server stays out of service",
          fix: `check the release on ${u.t.host.name} (or \`cutover rollback --hosts ${u.t.host.name}\` without balancer:), put the server back in service and remove ${u.t.layout.meta}/drained.json`,
        },
      );
  }
  const [drain] = planDrains(b, [group.map((u) => u.t.host.name)]);
  emit({
    type: "info",
    message: `balancer: ${drain!.servers.join(", ")} taken out by a cutover run that stopped before putting them back: back in service`,
  });
  if (!(await backInService(link, drain!, group, emit)))
    throw new CutoverError("balancer", `balancer: cannot put ${drain!.servers.join(", ")} back in service`, {
      state: "nothing was switched",
      fix: `check ${describeBalancer(b)}`,
    });
}
