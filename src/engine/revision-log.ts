import type { ResolvedStage } from "../config/resolve.js";
import type { HistoryEntry } from "../plan/records.js";
import type { ReleaseMeta } from "../plan/release-meta.js";
import { type LogRow, revisionLog } from "../plan/revision-log.js";
import type { Emit } from "./events.js";
import { onEveryHost } from "./every-host.js";
import { readHostHistory } from "./inspect.js";
import { readFacts } from "./lock.js";
import { openTargets, selectHosts } from "./targets.js";

/**
 * `cutover log`: the deploys and rollbacks of every host, newest first, each with the commit that
 * went up (from the release metadata), who ran it and how it ended. Reads only.
 */
export async function readRevisionLog(
  stage: ResolvedStage,
  limit: number,
  hosts: readonly string[] | undefined,
  emit: Emit,
): Promise<LogRow[]> {
  const targets = openTargets(stage, selectHosts(stage, hosts));
  try {
    const perHost = await onEveryHost(targets, async (t) => {
      const facts = await readFacts(t, []);
      // Other events (unlock, cleanup...) share the journal: read well past `limit` lines.
      const entries = await readHostHistory(t, Math.max(500, limit * 20), emit);
      return { entries, metas: facts.metas };
    });
    const metas = new Map<string, ReleaseMeta>();
    for (const h of perHost)
      for (const [id, m] of h.metas) if (!metas.has(id) || m.revision?.subject) metas.set(id, m);
    const entries: HistoryEntry[] = perHost.flatMap((h) => h.entries);
    return revisionLog(entries, metas, limit);
  } finally {
    await targets.close();
  }
}
