import { z } from "zod";
import type { HistoryEntry } from "./records.js";
import { revisionInfoFields, withoutUndefined } from "./release-meta.js";

const nullableText = z.string().nullable().catch(null);

/** A history line as read from a host: untrusted, so checked; text fields get fallbacks. */
const entrySchema = z.object({
  event: z.enum([
    "deploy",
    "rollback",
    "unlock",
    "cleanup",
    "adopt",
    "restore-shared",
    "switch",
    "switch-back",
  ]),
  outcome: z.enum(["ok", "failed", "aborted", "rolled-back", "degraded"]),
  stage: z.string().catch("?"),
  host: z.string().catch("?"),
  release: nullableText,
  previous: nullableText,
  revision: nullableText,
  revision_info: z
    .object(revisionInfoFields)
    .transform((r) => withoutUndefined(r))
    .optional()
    .catch(undefined),
  who: z.string().catch("unknown"),
  at: z.string().datetime({ offset: true }),
  duration_ms: z.number().nonnegative().nullable().catch(null),
  reason: nullableText,
});

/** Parses history.jsonl text; lines that are not entries are counted, never fatal. */
export function parseHistory(text: string): { entries: HistoryEntry[]; bad: number } {
  const entries: HistoryEntry[] = [];
  let bad = 0;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const parsed = entrySchema.safeParse(JSON.parse(line));
      if (parsed.success) entries.push(withoutUndefined(parsed.data) as HistoryEntry);
      else bad += 1;
    } catch {
      bad += 1;
    }
  }
  return { entries, bad };
}
