/**
 * Release ids are UTC timestamps (20261127T101500Z): they sort by time, read well, and all have the
 * same length. The length matters: nginx sizes a FastCGI request from one resolution of
 * $realpath_root and fills it from another, so a switch between releases whose paths differ in
 * length fails that request (500, "fastcgi request length mismatch"). A second deploy in the same
 * second, or after a clock that went back, takes the second after the newest existing id.
 */
const ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/**
 * The only names cutover ever gives a release: what it may own (and so remove). The migrated
 * 00000000T000000Z has this shape too, but without metadata it is never taken for cutover's own.
 */
export function isIdShaped(text: string): boolean {
  return ID.test(text);
}

/**
 * A release name another tool gave (Capistrano's 20240101120000, Deployer's 1, 2, 3): safe as one
 * path component and as a shell word. cutover owns such a release only once `adopt` recorded it.
 */
export function isAdoptableName(text: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(text);
}

/** A timestamp id of a real time (the migrated 00000000T000000Z is not one: it is older than all). */
export function isReleaseId(text: string): boolean {
  return ID.test(text) && !Number.isNaN(timeOf(text).getTime());
}

export function timestampId(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

function timeOf(id: string): Date {
  const [, y, mo, d, h, mi, s] = ID.exec(id)!;
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
}

/** Ids of one length order by time as plain text. */
export function compareReleaseIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The id for a new deploy: now, or the second after the newest existing id if that is not older. */
export function nextReleaseId(now: Date, existing: Iterable<string>): string {
  const candidate = timestampId(now);
  let newest: string | undefined;
  for (const id of existing) {
    if (isReleaseId(id) && (newest === undefined || id > newest)) newest = id;
  }
  if (newest === undefined || candidate > newest) return candidate;
  return timestampId(new Date(timeOf(newest).getTime() + 1000));
}
