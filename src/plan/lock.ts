/** Who holds a deploy lock. Written to `.cutover/lock/owner.json` right after the atomic mkdir. */
export interface LockOwner {
  readonly token: string;
  readonly who: string;
  readonly machine: string;
  readonly pid: number;
  readonly since: string;
  readonly command: string;
}

export function parseLockOwner(text: string): LockOwner | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockOwner>;
    if (typeof v.token !== "string" || typeof v.pid !== "number" || typeof v.machine !== "string")
      return undefined;
    return v as LockOwner;
  } catch {
    return undefined;
  }
}

export function describeOwner(owner: LockOwner | undefined): string {
  if (!owner) return "an unknown holder (the lock has no readable owner file)";
  return `${owner.who} (pid ${owner.pid} on ${owner.machine}, running "${owner.command}") since ${owner.since}`;
}

/**
 * A lock is provably stale only when its holder ran on this very machine and that pid is gone.
 * `pidAlive` is passed in so this stays a pure decision.
 */
export function isStale(
  owner: LockOwner | undefined,
  machine: string,
  pidAlive: (pid: number) => boolean,
): boolean {
  return owner !== undefined && owner.machine === machine && !pidAlive(owner.pid);
}
