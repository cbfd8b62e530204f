import type { ResolvedStage } from "../config/resolve.js";
import type { DeployContext } from "./deploy.js";
import { describeCommit, extractCommit, mirrorFetch } from "./git-steps.js";
import type { Layout } from "./layout.js";
import type { DeltaBase, Step } from "./steps.js";

/** The step pull mode knows by name: its failure with git's own exit code is the network's, not the commit's. */
export const MIRROR_FETCH_STEP = "fetch repository mirror";

/**
 * How the release gets its files: uploaded from the source, or from the local build (then verified
 * against it), or extracted on the host from the commit of its git mirror. An upload with a `delta`
 * base links what that release already has and sends the rest.
 */
/** What an upload of the source leaves out: the stage's excludes and its shared paths. */
export function uploadExcludes(stage: ResolvedStage): string[] {
  return [...stage.exclude, ...[...stage.sharedDirs, ...stage.sharedFiles].map((p) => `/${p}`)];
}

export function releaseContent(
  ctx: DeployContext,
  l: Layout,
  linkDest: string[],
  delta: DeltaBase | undefined,
): Step[] {
  const { stage, source, releaseId: id } = ctx;
  const rel = l.release(id);
  const exclude = uploadExcludes(stage);
  if (source.built) {
    // The build directory is shipped exactly (shared paths already taken out), so it can be verified.
    const transfer = { from: source.built.dir, to: rel, directory: true, linkDest, exclude: [] };
    return [
      { kind: "transfer", title: "upload files", transfer: { ...transfer, compare: "checksum" }, delta },
      {
        kind: "verify-upload",
        title: "verify upload against the local build",
        checksum: source.built.checksum,
      },
    ];
  }
  if (stage.git && source.revision) {
    const commit = source.revision.commit;
    const seedDirs = stage.sharedDirs.filter((p) => (ctx.facts.shared.get(p) ?? "missing") === "missing");
    return [
      { kind: "run", title: MIRROR_FETCH_STEP, cmds: [mirrorFetch(l, stage.git, commit)] },
      {
        kind: "run",
        title: `extract commit ${commit.slice(0, 12)}`,
        cmds: extractCommit({ l, git: stage.git, commit, releaseId: id, seedDirs, linkDest, exclude }),
        warns: true,
      },
      { kind: "git-describe", title: "read commit details", cmds: [describeCommit(l, commit)] },
    ];
  }
  const transfer = { from: stage.source, to: rel, directory: true, linkDest, exclude };
  return [
    {
      kind: "transfer",
      title: "upload files",
      transfer: { ...transfer, compare: stage.uploadCompare },
      delta,
    },
  ];
}
