import type { SnapshotListRow, SnapshotRow } from "../engine/snapshots.js";
import { renderCmd } from "../shell/cmd.js";

/** `snapshot list`: one line per snapshot, its state on every host, why and when it was taken. */
export function snapshotTable(rows: readonly SnapshotListRow[]): string {
  if (rows.length === 0) return "no snapshots";
  return rows
    .map((r) => {
      const states = Object.entries(r.hosts).map(([host, state]) => `${host}: ${state}`);
      const why =
        r.meta.reason === "before-deploy" && r.meta.release
          ? `before deploying ${r.meta.release}`
          : r.meta.reason;
      return `${r.id}  ${why}  live ${r.meta.live ?? "-"}  by ${r.meta.who}  [${states.join(", ")}]`;
    })
    .join("\n");
}

const swapText = {
  exchange: "one rename exchange",
  renames: "two renames (this host has no rename exchange)",
  unrecorded: "a swap whose record was lost (a full disk?)",
} as const;

/** What create, restore and prune did (or, in a dry run, would run) on each host. */
export function snapshotRowsText(
  action: "create" | "restore" | "prune",
  rows: readonly SnapshotRow[],
): string {
  return rows
    .flatMap((r) => {
      if (r.cmds) return [`host ${r.host}`, ...r.cmds.map((c) => `  ${renderCmd(c).replace(/\n/g, "\n  ")}`)];
      if (action === "create")
        return [
          `${r.host}: snapshot ${r.id}${r.sqlite?.length ? ` (SQLite online backup: ${r.sqlite.join(", ")})` : ""}`,
        ];
      if (action === "restore")
        return [
          `${r.host}: shared/ restored from ${r.id} by ${swapText[r.swap ?? "unrecorded"]}${r.sqlite?.length ? ` (SQLite restored in place: ${r.sqlite.join(", ")})` : ""}; the replaced shared/ is snapshot ${r.saved}`,
        ];
      return [`${r.host}: ${r.removed?.length ? `removed ${r.removed.join(", ")}` : "nothing to remove"}`];
    })
    .join("\n");
}
