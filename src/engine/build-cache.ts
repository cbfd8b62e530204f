import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ResolvedStage } from "../config/resolve.js";
import type { BuildCache } from "../plan/in-place.js";
import { compareReleaseIds, isReleaseId } from "../plan/release-id.js";
import { rsyncArgs, runRsync } from "../transport/rsync.js";

/**
 * strategy: in-place keeps each release's build on the deploying machine, so a rollback can upload
 * it again: $XDG_CACHE_HOME/cutover/<stage>-<hash of the config path>/builds/<id>/ with <id>.json
 * beside it. Only a directory whose marker names this stage and config is ever removed.
 */
export function buildsRoot(stage: ResolvedStage): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  const key = createHash("sha256").update(stage.configFile).digest("hex").slice(0, 12);
  return path.join(base, "cutover", `${stage.name}-${key}`, "builds");
}

interface Marker {
  readonly id: string;
  readonly stage: string;
  readonly config: string;
}

async function isOurs(root: string, id: string, stage: ResolvedStage): Promise<boolean> {
  try {
    const m = JSON.parse(await readFile(path.join(root, `${id}.json`), "utf8")) as Partial<Marker>;
    return m.id === id && m.stage === stage.name && m.config === stage.configFile;
  } catch {
    return false;
  }
}

/** The builds kept for this stage, oldest first: id-named directories with our marker. */
export async function listBuilds(stage: ResolvedStage): Promise<BuildCache> {
  const root = buildsRoot(stage);
  const names = await readdir(root, { withFileTypes: true }).catch(() => []);
  const ids: string[] = [];
  for (const e of names)
    if (e.isDirectory() && isReleaseId(e.name) && (await isOurs(root, e.name, stage))) ids.push(e.name);
  return { root, ids: ids.sort(compareReleaseIds) };
}

/** Copies the source (its excludes applied) into a new build; unchanged files hard-linked to the newest one. */
export async function createBuild(stage: ResolvedStage, id: string, cache: BuildCache): Promise<BuildCache> {
  const dir = path.join(cache.root, id);
  await mkdir(dir, { recursive: true });
  const marker: Marker = { id, stage: stage.name, config: stage.configFile };
  await writeFile(path.join(cache.root, `${id}.json`), `${JSON.stringify(marker)}\n`);
  const newest = cache.ids.at(-1);
  await runRsync(
    "local",
    rsyncArgs(
      {
        from: stage.source,
        to: dir,
        directory: true,
        linkDest: newest ? [`../${newest}`] : [],
        exclude: stage.exclude,
        compare: stage.uploadCompare,
        dirTimes: true,
      },
      dir,
    ),
  );
  return { root: cache.root, ids: [...cache.ids, id] };
}

/** Removes builds beyond `keep_builds` (newest kept) except those named in `keep` (live, rollback target). */
export async function pruneBuilds(stage: ResolvedStage, keep: readonly string[]): Promise<string[]> {
  await finishRemovals(buildsRoot(stage));
  const { root, ids } = await listBuilds(stage);
  const drop = ids.slice(0, Math.max(0, ids.length - stage.keepBuilds)).filter((id) => !keep.includes(id));
  for (const id of drop) await removeBuild(root, id);
  return drop;
}

/** A build no host serves (its deploy failed): it is no rollback target, so it need not take a place. */
export async function dropBuild(stage: ResolvedStage, id: string): Promise<void> {
  const root = buildsRoot(stage);
  if (await isOurs(root, id, stage)) await removeBuild(root, id);
}

/** A build being removed: a name that is no id, so it is never listed, linked to or uploaded. */
const REMOVING = ".removing-";

/**
 * The build leaves the listing in one rename before anything in it is deleted: a removal stopped half
 * way must not leave a partial build under its marker, which a rollback would upload (with
 * --delete) into the live copy.
 */
async function removeBuild(root: string, id: string): Promise<void> {
  const doomed = path.join(root, `${REMOVING}${id}`);
  try {
    await rename(path.join(root, id), doomed);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await rm(path.join(root, `${id}.json`), { force: true });
  await rm(doomed, { recursive: true, force: true });
}

/** Finishes the removals a stopped run left (`.removing-<id>`, a name only removeBuild makes). */
async function finishRemovals(root: string): Promise<void> {
  for (const e of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    const id = e.name.slice(REMOVING.length);
    if (!e.isDirectory() || !e.name.startsWith(REMOVING) || !isReleaseId(id)) continue;
    await rm(path.join(root, `${id}.json`), { force: true });
    await rm(path.join(root, e.name), { recursive: true, force: true });
  }
}
