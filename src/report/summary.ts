import { EXIT } from "../errors.js";
import type { DeployResult, ReleaseRow, VerifyRow } from "../index.js";
import type { HistoryEntry } from "../plan/records.js";
import { colors as pc } from "./colors.js";
import { formatBytes, table } from "./render.js";

/** "1 file", "2 files". */
const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

export function deploySummary(action: "deploy" | "rollback", r: DeployResult): string {
  const hosts = count(r.hosts.length, "host");
  const what =
    action === "deploy"
      ? `deployed ${pc.bold(r.release)} to ${hosts}`
      : `rolled back ${hosts} to ${pc.bold(r.release)}`;
  const took = `${what} in ${(r.durationMs / 1000).toFixed(2)} s`;
  // Live, but a step after the switch failed: a green tick over the warnings would read as success.
  const head = !r.ok
    ? `${pc.red("✗")} ${action} of ${r.release} failed: ${r.error?.message ?? "unknown error"}`
    : r.exitCode === EXIT.degraded
      ? `${pc.yellow("!")} ${took}, but a step after the switch failed (exit 4)`
      : `${pc.green("✓")} ${took}`;
  const lines = [head];
  if (r.ok && action === "deploy")
    lines.push(
      `  ${count(r.filesTransferred, "file")}, ${formatBytes(r.bytesTransferred)} transferred; switch skew ${r.switchSkewMs} ms`,
    );
  for (const d of r.error?.detail ?? []) lines.push(`  | ${d}`);
  lines.push(
    table([
      ["host", "state", "current"],
      ...r.hosts.map((h) => [h.host, h.state, h.serving ?? "(none)"]),
    ]).replace(/^/gm, "  "),
  );
  for (const h of r.hosts) {
    if (h.mixedWindow === undefined) continue;
    lines.push(
      h.mixedWindow
        ? `  ${h.host}: in-place, files of both builds were live together for ${h.mixedWindow.ms} ms (${count(h.mixedWindow.files, "file")} renamed into place)`
        : `  ${h.host}: in-place, no file changed`,
    );
  }
  for (const w of r.warnings) lines.push(`${pc.yellow("warning:")} ${w}`);
  return lines.join("\n");
}

export function releasesTable(rows: readonly ReleaseRow[]): string {
  if (rows.length === 0) return "no releases yet";
  const hosts = Object.keys(rows[0]!.hosts);
  const multi = hosts.length > 1;
  const header = [
    "release",
    multi ? "state per host" : "state",
    "revision",
    "who",
    "finished",
    "files",
    "size",
  ];
  const body = rows.map((r) => {
    const state = Object.entries(r.hosts)
      .map(
        ([h, s]) =>
          `${multi ? `${h}:` : ""}${s.live ? pc.green("live") : s.state}${s.onDisk || s.state === "failed" || s.state === "bad" ? "" : " (no files)"}`,
      )
      .join(" ");
    const rev = r.meta.revision
      ? `${r.meta.revision.commit.slice(0, 10)}${r.meta.revision.dirty ? "+dirty" : ""}`
      : "-";
    return [
      `${r.id}${r.disagree ? pc.yellow(" !") : ""}${r.meta.adopted ? ` (adopted: ${r.meta.adopted.tool})` : ""}`,
      state +
        (r.meta.reason && (r.meta.state === "failed" || r.meta.state === "bad") ? ` (${r.meta.reason})` : ""),
      rev,
      r.meta.who,
      r.meta.finished_at ?? (r.meta.adopted ? r.meta.started_at : "-"),
      r.meta.files === undefined ? "-" : String(r.meta.files),
      r.meta.bytes === undefined ? "-" : formatBytes(r.meta.bytes),
    ];
  });
  return (
    table([header, ...body]) +
    (rows.some((r) => r.disagree) ? `\n${pc.yellow("!")} hosts disagree on this release` : "")
  );
}

export function historyTable(entries: readonly HistoryEntry[]): string {
  if (entries.length === 0) return "no history yet";
  return table([
    ["when", "host", "event", "outcome", "release", "previous", "who", "reason"],
    ...entries.map((e) => [
      e.at,
      e.host,
      e.event,
      e.outcome,
      e.release ?? "-",
      e.previous ?? "-",
      e.who,
      e.reason ?? "",
    ]),
  ]);
}

export function verifyTable(rows: readonly VerifyRow[]): string {
  return table([
    ["host", "release", "result"],
    ...rows.map((r) => [
      r.host,
      r.release ?? "-",
      r.ok ? pc.green("ok: checksum matches") : pc.red(r.problem ?? "failed"),
    ]),
  ]);
}
