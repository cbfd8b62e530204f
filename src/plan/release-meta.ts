/** What cutover records about each release in `.cutover/releases/<id>.json` on every host. */
export type ReleaseState = "preparing" | "ready" | "live" | "superseded" | "rolled-back" | "failed" | "bad";

export const GOOD_STATES: ReadonlySet<ReleaseState> = new Set(["ready", "live", "superseded", "rolled-back"]);

export interface Revision {
  readonly commit: string;
  readonly dirty: boolean;
}

export interface ReleaseMeta {
  readonly id: string;
  readonly state: ReleaseState;
  readonly stage: string;
  readonly who: string;
  readonly revision: Revision | null;
  readonly started_at: string;
  readonly finished_at?: string;
  readonly files?: number;
  readonly bytes?: number;
  readonly checksum?: string;
  readonly reason?: string;
}

/** How a revision reads in results and tables: the commit, "+dirty" for uncommitted changes. */
export function revisionText(revision: Revision | null | undefined): string | null {
  return revision ? `${revision.commit}${revision.dirty ? "+dirty" : ""}` : null;
}

export function isGood(meta: ReleaseMeta | undefined): boolean {
  return meta !== undefined && GOOD_STATES.has(meta.state);
}

const STATES: readonly string[] = [
  "preparing",
  "ready",
  "live",
  "superseded",
  "rolled-back",
  "failed",
  "bad",
];

/** Reads one metadata line; anything malformed is undefined (treated as an incomplete release). */
export function parseReleaseMeta(text: string): ReleaseMeta | undefined {
  try {
    const value = JSON.parse(text) as Partial<ReleaseMeta>;
    if (typeof value.id !== "string" || typeof value.state !== "string" || !STATES.includes(value.state))
      return undefined;
    return value as ReleaseMeta;
  } catch {
    return undefined;
  }
}
