import { parseSnapshotFacts, type SnapshotFacts, snapshotProbe } from "../plan/snapshot-facts.js";
import type { SnapshotState } from "../plan/snapshot-plan.js";
import { nextSnapshotId } from "../plan/snapshot-select.js";
import type { Emit } from "./events.js";
import { onEveryHost } from "./every-host.js";
import { runStep } from "./steps.js";
import type { Target } from "./targets.js";

/** Reads a host's snapshots; what cutover does not understand there is reported as a warning. */
export async function readSnapshots(t: Target, emit: Emit): Promise<SnapshotFacts> {
  const { stdout } = await runStep({ executor: t.executor, emit: () => undefined }, "read snapshots", [
    snapshotProbe(t.host.path),
  ]);
  const facts = parseSnapshotFacts(stdout.toString("utf8"));
  for (const message of facts.problems) emit({ type: "warning", host: t.host.name, message });
  return facts;
}

/** The `key\0value\0` records a snapshot program prints, in order. */
function records(stdout: Buffer | undefined): [string, string][] {
  const fields = (stdout ?? Buffer.alloc(0)).toString("utf8").split("\0");
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) out.push([fields[i]!, fields[i + 1]!]);
  return out;
}

/** The databases a snapshot backed up online, or a restore restored in place (`sqlite` records). */
export function sqlitePaths(stdout: Buffer | undefined): string[] {
  return records(stdout)
    .filter(([key]) => key === "sqlite")
    .map(([, path]) => path);
}

/** How a restore swapped shared/ (its `swap` record). */
export function swapOf(stdout: Buffer | undefined): "exchange" | "renames" | "unrecorded" | undefined {
  const way = records(stdout)
    .find(([key]) => key === "swap")?.[1]
    ?.trim();
  return way === "exchange" || way === "renames" || way === "unrecorded" ? way : undefined;
}

/** Every host's snapshots and the id a new snapshot gets on all of them (newer than any name there). */
export async function snapshotState(
  targets: readonly Target[],
  now: Date,
  emit: Emit,
): Promise<SnapshotState> {
  const facts = await onEveryHost(targets, (t) => readSnapshots(t, emit));
  return {
    id: nextSnapshotId(now, facts),
    facts: new Map(targets.map((t, i) => [t.host.name, facts[i]!])),
  };
}
