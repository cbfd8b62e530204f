// Why a pool would keep serving the old release after its reset, in the user's words.
import { CutoverError } from "../errors.js";
import type { RuntimeReport } from "../integrations/php/runtime-script.js";
import type { Host } from "./php-runtime.js";

export function describe(answers: readonly RuntimeReport[]): string {
  // One line per worker: several answers of one worker say the same.
  const reports = [...new Map(answers.map((r) => [r.pid, r])).values()];
  return reports
    .map(
      (r) =>
        `pid ${r.pid} serves ${r.serving || "(nothing)"}${r.opcache?.restart_pending ? " (OPcache restart pending)" : ""}`,
    )
    .join("; ");
}

/** A pool that keeps OPcache on but will not let the reset through would serve the old code. */
export function refuseUnresettable(t: Host, address: string, reports: readonly RuntimeReport[]): void {
  const refused = reports.find((r) => typeof r.refused === "string")?.refused;
  if (refused === undefined) return;
  throw new CutoverError(
    "stale",
    `${t.host.name}: cannot reset OPcache of php-fpm at ${address}: ${refused}`,
    {
      fix: "allow opcache_reset and opcache_get_status in that pool (disable_functions, opcache.restrict_api), or use reset: reload, or the nginx config of `cutover server-config` with reset: none",
    },
  );
}

export interface OpcacheOff {
  readonly setting: string;
  readonly ttl: number;
}

/** OPcache off in every answering worker: opcache_reset() then clears no realpath cache either. */
export function opcacheOff(reports: readonly RuntimeReport[]): OpcacheOff | undefined {
  if (reports.length === 0 || reports.some((r) => r.opcache?.enabled)) return undefined;
  const enable = reports[0]!.ini["opcache.enable"];
  return {
    setting: enable === false ? "the OPcache extension is not loaded" : `opcache.enable=${enable || 0}`,
    ttl: Number(reports[0]!.ini.realpath_cache_ttl || 0),
  };
}

export function realpathStale(t: Host, address: string, off: OpcacheOff, workers: string): CutoverError {
  return new CutoverError(
    "stale",
    `${t.host.name}: php-fpm at ${address} has OPcache off (${off.setting}), so reset: opcache clears no realpath cache: its workers resolve ${t.layout.current} to the old release for up to realpath_cache_ttl=${off.ttl} s`,
    {
      detail: [workers],
      fix: "use reset: reload for this pool, or reset: none with the nginx config of `cutover server-config` ($realpath_root), or turn OPcache on",
    },
  );
}

/** Something else in the pool writes output (auto_prepend_file, another app on the socket): no report to read. */
export function unreadable(t: Host, address: string, answer: string): CutoverError {
  const excerpt = answer.replace(/\s+/g, " ").trim().slice(0, 300);
  return new CutoverError(
    "stale",
    `${t.host.name}: php-fpm at ${address} answered with nothing cutover can read as a report, so it cannot tell which release the pool serves`,
    {
      detail: [excerpt === "" ? "(an empty answer)" : `it answered: ${excerpt}`],
      fix: "check what else writes output in that pool (auto_prepend_file, output handlers) and that php.fpm names this application's pool",
    },
  );
}
