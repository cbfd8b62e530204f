import type { PhpPool } from "../config/resolve.js";
import type { HostFacts } from "../plan/facts.js";
import { foreignCurrent } from "../plan/in-place-target.js";
import type { Layout } from "../plan/layout.js";

type Add = (level: "error" | "warning", check: string, message: string, fix: string) => void;

/** strategy: in-place: what the weaker guarantee costs on this host, and a layout it would refuse. */
export function inPlaceFindings(facts: HostFacts, l: Layout, unshared: readonly string[], add: Add): void {
  if (facts.current.kind === "link") {
    add(
      "error",
      "strategy",
      `strategy is in-place but ${l.current} is a symlink (the releases layout): deploys will refuse it`,
      "keep strategy: releases for this deploy path (the stronger one), or deploy in-place to a new path",
    );
    return;
  }
  if (foreignCurrent(facts))
    add(
      "error",
      "current",
      `${l.current} holds files cutover did not put there (no release of cutover's was ever recorded here): an in-place deploy refuses it`,
      "move it away (or its data into shared_dirs), then deploy",
    );
  for (const p of unshared)
    add(
      "warning",
      "shared",
      `${l.current}/${p} is not a link into ${l.shared}/${p}: the live directory had it before it was a shared path, so the app keeps its data there (not in snapshots of shared/, not seen by other hosts' shared storage)`,
      `move its contents into ${l.shared}/${p} and remove ${l.current}/${p}, then deploy: cutover links a shared path only where nothing is there, and never moves data`,
    );
  add(
    "warning",
    "strategy",
    `strategy: in-place: the vhost serves ${l.current}/public, updated file by file when the upload renames its files into place; a request in flight across that window (deploy --json reports it per host as mixedWindow) can run files of two builds`,
    "where the vhost can point at a symlink, use strategy: releases: its switch is one rename, and no request mixes builds",
  );
}

/** OPcache keeps serving the cached copy of a path until it revalidates it: in place, nothing else changes the path. */
export function inPlacePoolFindings(
  pool: PhpPool,
  ini: Readonly<Record<string, string | false>>,
  add: Add,
): void {
  if (pool.reset !== "none") return;
  if (ini["opcache.validate_timestamps"] === "0") {
    add(
      "error",
      "opcache",
      `${pool.address}: opcache.validate_timestamps=0 and no reset: an in-place upload is never served`,
      "set reset: opcache for this pool",
    );
    return;
  }
  const freq = Number(ini["opcache.revalidate_freq"] || 0);
  if (freq > 0)
    add(
      "warning",
      "opcache",
      `${pool.address}: opcache.revalidate_freq=${freq} and no reset: for up to ${freq} s after an in-place upload each file is revalidated on its own, so requests can mix builds well beyond the rename window`,
      "set reset: opcache for this pool (or opcache.revalidate_freq=0)",
    );
}
