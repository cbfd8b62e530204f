import { z } from "zod";
import { shortText } from "./release-meta.js";

/** Who holds a deploy lock. Written to `.cutover/lock/owner.json` right after the atomic mkdir. */
export interface LockOwner {
  readonly token: string;
  readonly who: string;
  /** Host name, for people: cloned VMs and containers share it, so it proves nothing. */
  readonly machine: string;
  /** machine-id + boot id + pid namespace of the deploying process: equal only where its pid means the same process. */
  readonly machine_id?: string;
  readonly pid: number;
  /** The process's start time (clock ticks since boot): a reused pid has another. */
  readonly pid_start?: string;
  readonly since: string;
  readonly command: string;
}

// What is only shown (who, machine, since, command) is one line of text: an error naming the holder
// cannot be made to print lines of the host's choosing.
const ownerSchema = z.object({
  token: z.string().min(1),
  who: shortText.catch("unknown"),
  machine: shortText.catch("unknown"),
  machine_id: z.string().optional().catch(undefined),
  pid: z.number().int().positive(),
  pid_start: z.string().optional().catch(undefined),
  since: shortText.catch("?"),
  command: shortText.catch("?"),
});

export function parseLockOwner(text: string): LockOwner | undefined {
  try {
    const parsed = ownerSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function describeOwner(owner: LockOwner | undefined): string {
  if (!owner) return "an unknown holder (the lock has no readable owner file)";
  return `${owner.who} (pid ${owner.pid} on ${owner.machine}, running "${owner.command}") since ${owner.since}`;
}

/** What this machine can tell about a local pid: gone, a zombie (killed, not reaped), or running since `start`. */
export type ProcessState =
  | { readonly kind: "gone" }
  | { readonly kind: "zombie" }
  | { readonly kind: "running"; readonly start: string | undefined };

/**
 * A lock is provably stale only when its holder ran where its pid means the same process (same
 * machine id, boot and pid namespace) and that process is gone, a zombie, or a newer process with
 * the reused pid. A lock without a machine id (older cutover) is never provably stale.
 * `processState` is passed in so this stays a pure decision.
 */
export function isStale(
  owner: LockOwner | undefined,
  machineId: string,
  processState: (pid: number) => ProcessState,
): boolean {
  if (owner?.machine_id === undefined || owner.machine_id !== machineId) return false;
  const state = processState(owner.pid);
  if (state.kind !== "running") return true;
  return owner.pid_start !== undefined && state.start !== undefined && state.start !== owner.pid_start;
}

/** The lock of a host as the facts probe found it (or took it). */
export type LockStatus =
  | { readonly kind: "free" }
  | { readonly kind: "acquired" }
  | {
      readonly kind: "held";
      readonly owner: LockOwner | undefined;
      /** The owner file's cksum on the host: what `unlock` checks is still there. */
      readonly sum: string;
    }
  | { readonly kind: "error"; readonly message: string; readonly fix?: string };

/** What is at .cutover/lock is no lock: no unlock may remove it, so say what is. */
export function foreignLock(deployPath: string, kind: string): LockStatus {
  const lock = `${deployPath}/.cutover/lock`;
  return {
    kind: "error",
    message: `${lock} is a ${kind}, not a directory: no run of cutover made it, so it is no lock`,
    fix: `move ${lock} away (cutover removes nothing it did not make), then run again`,
  };
}
