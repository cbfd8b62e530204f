import { CutoverError, EXIT } from "../errors.js";
import { isGood, type ReleaseMeta } from "./release-meta.js";
import { releaseOrder } from "./release-order.js";

/** Good releases before the live one, oldest first, by id (never by mtime). */
function goodBefore(metas: ReadonlyMap<string, ReleaseMeta>, live: string | undefined): ReleaseMeta[] {
  const order = releaseOrder(metas);
  return [...metas.values()]
    .filter((m) => isGood(m) && m.id !== live && (live === undefined || order(m.id, live) < 0))
    .sort((x, y) => order(x.id, y.id));
}

/**
 * The last good release before the live one that no one rolled back from: a release left by a
 * rollback was left for a reason (as Deployer skips its BAD_RELEASE), so a plain rollback after the
 * next deploy goes past it; `--to` still takes it.
 */
export function previousGood(
  metas: ReadonlyMap<string, ReleaseMeta>,
  live: string | undefined,
): string | undefined {
  return goodBefore(metas, live)
    .filter((m) => m.state !== "rolled-back")
    .at(-1)?.id;
}

/** Picks the rollback target on one host, or explains why there is none. */
export function rollbackTarget(
  host: string,
  metas: ReadonlyMap<string, ReleaseMeta>,
  live: string | undefined,
  to: string | undefined,
  force = false,
  /** In place, the live release's build may be uploaded again (repairs what a killed upload mixed). */
  again = false,
): string {
  if (live === undefined) {
    throw new CutoverError(
      "rollback",
      `${host}: nothing is live (no current release), so there is nothing to roll back from`,
    );
  }
  if (to === undefined) {
    const target = previousGood(metas, live);
    if (!target) {
      const left = goodBefore(metas, live).at(-1)?.id;
      throw new CutoverError(
        "rollback",
        `${host}: no good release older than the live one (${live}) to roll back to`,
        {
          fix: left
            ? `deploy a fixed release instead, or pass --to ${left} (a release rolled back from before)`
            : "deploy a fixed release instead, or pass --to ID (see `cutover releases`)",
        },
      );
    }
    return target;
  }
  const meta = metas.get(to);
  if (!meta)
    throw new CutoverError("rollback", `${host}: release ${to} does not exist`, {
      fix: "see `cutover releases` for the ids",
      exitCode: EXIT.usage,
    });
  if (to === live && again) return to;
  if (to === live) throw new CutoverError("rollback", `${host}: release ${to} is already live`);
  if (meta.state === "bad" && !force) {
    throw new CutoverError(
      "rollback",
      `${host}: release ${to} is marked bad${meta.reason ? ` (${meta.reason})` : ""}`,
      {
        fix: "pass --force to roll back to it anyway",
      },
    );
  }
  if (!isGood(meta) && meta.state !== "bad") {
    throw new CutoverError("rollback", `${host}: release ${to} is ${meta.state}, not a complete release`, {
      fix: "choose a release marked ready, live, superseded or rolled-back (see `cutover releases`)",
    });
  }
  return to;
}

/**
 * Releases to delete so that `keep` good releases remain: failed and bad ones go first, then the
 * oldest good ones. The live release and the rollback target are never deleted.
 */
export function selectPrune(
  metas: ReadonlyMap<string, ReleaseMeta>,
  dirs: readonly string[],
  live: string | undefined,
  keep: number,
  /** Names in releases/ that are not cutover's (symlinks, files): their metadata is left too. */
  foreign: readonly string[] = [],
): string[] {
  const order = releaseOrder(metas);
  const protectedIds = new Set(
    [live, previousGood(metas, live), ...foreign].filter((id): id is string => id !== undefined),
  );
  // Failed releases are listed by their metadata: their files may already be gone.
  const broken = [...metas.values()]
    .filter((m) => !isGood(m) && m.state !== "preparing" && !protectedIds.has(m.id))
    .map((m) => m.id)
    .sort(order);
  const good = [...dirs.filter((id) => isGood(metas.get(id)))].sort(order).reverse();
  const kept = new Set([...protectedIds, ...good.slice(0, keep)]);
  const oldGood = good.filter((id) => !kept.has(id)).sort(order);
  return [...broken, ...oldGood];
}
