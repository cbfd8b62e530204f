/**
 * Release ids are UTC timestamps (20261127T101500Z) so they sort by time and read well. A second
 * deploy in the same second, or a clock that went back, gets the next id after the newest existing
 * one: 20261127T101500Z.2, .3, ... compareReleaseIds orders them numerically.
 */
const ID = /^(\d{8}T\d{6}Z)(?:\.(\d+))?$/;

export function isReleaseId(text: string): boolean {
  return ID.test(text);
}

export function timestampId(now: Date): string {
  return `${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z")}`;
}

function parts(id: string): [string, number] {
  const m = ID.exec(id);
  if (!m) return [id, 0];
  return [m[1]!, m[2] ? Number(m[2]) : 1];
}

export function compareReleaseIds(a: string, b: string): number {
  const [ta, sa] = parts(a);
  const [tb, sb] = parts(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return sa - sb;
}

/** The id for a new deploy: now, or just after the newest existing id if that is not older. */
export function nextReleaseId(now: Date, existing: Iterable<string>): string {
  const candidate = timestampId(now);
  let newest: string | undefined;
  for (const id of existing) {
    if (isReleaseId(id) && (newest === undefined || compareReleaseIds(id, newest) > 0)) newest = id;
  }
  if (newest === undefined || compareReleaseIds(candidate, newest) > 0) return candidate;
  const [stamp, seq] = parts(newest);
  return `${stamp}.${seq + 1}`;
}
