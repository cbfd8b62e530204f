import { compareReleaseIds, isIdShaped, timestampId } from "./release-id.js";
import type { ReleaseMeta } from "./release-meta.js";

/**
 * Oldest first. cutover's ids sort by time as text; an adopted release (Deployer's "3" sorts after
 * "20261127T101500Z" as text) takes its place by the time recorded when it was adopted.
 */
export function releaseOrder(metas: ReadonlyMap<string, ReleaseMeta>): (a: string, b: string) => number {
  const key = (id: string) => {
    const meta = metas.get(id);
    if (isIdShaped(id) || !meta) return id;
    const time = new Date(meta.started_at);
    return Number.isNaN(time.getTime()) ? "00000000T000000Z" : timestampId(time);
  };
  return (a, b) => compareReleaseIds(key(a), key(b)) || compareReleaseIds(a, b);
}
