import type { LogRow } from "../plan/revision-log.js";
import { colors as pc } from "./colors.js";
import { table } from "./render.js";

const OUTCOME_COLOR: Record<string, (s: string) => string> = { ok: pc.green, degraded: pc.yellow };

/** `cutover log` as a table: newest first; a mixed outcome names each host's. */
export function logTable(rows: readonly LogRow[]): string {
  if (rows.length === 0) return "no deploys or rollbacks yet";
  return table([
    ["when", "event", "release", "commit", "author", "subject", "who", "outcome"],
    ...rows.map((r) => [
      r.at,
      r.event === "rollback" ? `rollback (from ${r.previous ?? "-"})` : r.event,
      r.release ?? "-",
      r.revision ? `${r.revision.commit.slice(0, 12)}${r.revision.dirty ? "+dirty" : ""}` : "-",
      r.revision?.author ?? "",
      r.revision?.subject ?? "",
      r.who,
      r.outcome === "mixed"
        ? Object.entries(r.hosts)
            .map(([h, o]) => `${h}: ${o}`)
            .join(", ")
        : (OUTCOME_COLOR[r.outcome] ?? pc.red)(r.outcome),
    ]),
  ]);
}
