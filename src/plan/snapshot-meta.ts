import { z } from "zod";

/**
 * What cutover records about a snapshot in `.cutover/snapshots/<id>/snapshot.json`. It is written
 * `partial` before anything is copied and replaced by `complete` (atomic rename) after the copy is
 * synced: a snapshot cut short by a full disk or a kill is never taken for a whole one.
 */
export interface SnapshotMeta {
  readonly id: string;
  readonly state: "partial" | "complete";
  readonly reason: "manual" | "before-deploy" | "before-restore";
  readonly stage: string;
  readonly who: string;
  readonly created_at: string;
  /** The release `current` resolved to when it was taken. */
  readonly live: string | null;
  /** before-deploy: the release whose deploy it preceded (what `rollback --restore-shared` undoes). */
  readonly release: string | null;
}

/** Read from hosts, so untrusted: the fields cutover relies on are checked, the rest get fallbacks. */
const schema = z.object({
  id: z.string(),
  state: z.enum(["partial", "complete"]),
  reason: z.enum(["manual", "before-deploy", "before-restore"]).catch("manual"),
  stage: z.string().catch("?"),
  who: z.string().catch("unknown"),
  created_at: z.string().catch(""),
  live: z.string().nullable().catch(null),
  release: z.string().nullable().catch(null),
});

export function parseSnapshotMeta(text: string): SnapshotMeta | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
