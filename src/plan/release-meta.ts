import { z } from "zod";

/** What cutover records about each release in `.cutover/releases/<id>.json` on every host. */
export type ReleaseState = "preparing" | "ready" | "live" | "superseded" | "rolled-back" | "failed" | "bad";

export const GOOD_STATES: ReadonlySet<ReleaseState> = new Set(["ready", "live", "superseded", "rolled-back"]);

export interface Revision {
  readonly commit: string;
  readonly dirty: boolean;
  /** strategy: git: the ref the commit was resolved from (refs/heads/main), absent for a commit id. */
  readonly ref?: string;
  /** strategy: git: as the host's mirror has them ("Name <mail>", ISO 8601 date, first line). */
  readonly author?: string;
  readonly date?: string;
  readonly subject?: string;
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
  /** Made by another tool (or by hand) and recorded by `cutover adopt`. */
  readonly adopted?: { readonly tool: string };
  /** The files in which the scan found `needle` (DEPLOY_PATH/current/), when it knows all of them. */
  readonly current_scan?: CurrentScan;
}

export interface CurrentScan {
  readonly needle: string;
  readonly files: readonly string[];
}

/** How a revision reads in results and tables: the commit, "+dirty" for uncommitted changes. */
export function revisionText(revision: Revision | null | undefined): string | null {
  return revision ? `${revision.commit}${revision.dirty ? "+dirty" : ""}` : null;
}

export function isGood(meta: ReleaseMeta | undefined): boolean {
  return meta !== undefined && GOOD_STATES.has(meta.state);
}

/** Text from a host that tables print: one line, control characters replaced, at most 200 characters. */
export const shortText = z.string().transform((t) => t.replace(/\p{Cc}/gu, "?").slice(0, 200));

/** strategy: git's details of a commit, as read back from a host (metadata or history). */
export const revisionInfoFields = {
  ref: shortText.optional().catch(undefined),
  author: shortText.optional().catch(undefined),
  date: shortText.optional().catch(undefined),
  subject: shortText.optional().catch(undefined),
};

/** Optional fields that failed their check are dropped, not kept (or written back) as undefined. */
export function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Metadata is read from hosts, so it is untrusted: the fields cutover relies on are checked, text
 * the tables print gets a fallback, and unknown fields are dropped.
 */
const metaSchema = z.object({
  id: z.string(),
  state: z.enum(["preparing", "ready", "live", "superseded", "rolled-back", "failed", "bad"]),
  stage: z.string().catch("?"),
  who: z.string().catch("unknown"),
  revision: z
    .object({ commit: z.string(), dirty: z.boolean().catch(false), ...revisionInfoFields })
    .transform((r) => withoutUndefined(r) as unknown as Revision)
    .nullable()
    .catch(null),
  started_at: z.string().catch(""),
  finished_at: z.string().optional().catch(undefined),
  files: z.number().int().nonnegative().optional().catch(undefined),
  bytes: z.number().nonnegative().optional().catch(undefined),
  checksum: z
    .string()
    .regex(/^sha256:[0-9a-f]{64}$/)
    .optional()
    .catch(undefined),
  reason: z.string().optional().catch(undefined),
  adopted: z.object({ tool: z.string() }).optional().catch(undefined),
  current_scan: z
    .object({ needle: z.string(), files: z.array(z.string()).max(1000) })
    .optional()
    .catch(undefined),
});

/** Reads one metadata file; anything that is not metadata is undefined. */
export function parseReleaseMeta(text: string): ReleaseMeta | undefined {
  try {
    const parsed = metaSchema.safeParse(JSON.parse(text));
    if (!parsed.success) return undefined;
    // Optional fields that failed their check are dropped, not written back as null.
    return Object.fromEntries(
      Object.entries(parsed.data).filter(([, v]) => v !== undefined),
    ) as unknown as ReleaseMeta;
  } catch {
    return undefined;
  }
}
