import type { ResolvedStage } from "../config/resolve.js";
import { type ResolvedRef, resolveRef } from "../git/resolve.js";
import type { SourceFacts } from "../plan/deploy.js";
import type { Revision } from "../plan/release-meta.js";
import { parseReleaseMeta } from "../plan/release-meta.js";

/** Refs a command resolved, by repository and ref: its components of one repository deploy one commit. */
export type ResolvedRefs = Map<string, ResolvedRef>;

export interface ResolveOptions {
  readonly signal?: AbortSignal;
  readonly resolvedRefs?: ResolvedRefs;
}

/**
 * strategy: git: the ref (the stage's, or `override`) resolved once, here, to the commit every host
 * extracts; once per command, too: a component after another of the same repository takes the
 * commit that one got (a push between them would otherwise put two versions live). Shared paths
 * are seeded on the hosts from the commit, so none is "in the source" here.
 */
export async function gitSourceFacts(
  stage: ResolvedStage,
  override?: string,
  { signal, resolvedRefs }: ResolveOptions = {},
): Promise<SourceFacts> {
  const git = stage.git!;
  const ref = override ?? git.ref;
  const key = `${git.repository}\n${ref}`;
  const resolved =
    resolvedRefs?.get(key) ??
    (await resolveRef(git.repository, ref, {
      shown: git.shown,
      timeoutMs: stage.commandTimeoutSeconds * 1000,
      signal,
    }));
  resolvedRefs?.set(key, resolved);
  const revision: Revision = {
    commit: resolved.commit,
    dirty: false,
    ...(resolved.refName ? { ref: resolved.refName } : {}),
  };
  const paths = new Map([...stage.sharedDirs, ...stage.sharedFiles].map((p) => [p, "missing" as const]));
  return { revision, paths };
}

/**
 * The revision with the author, date and subject a host's mirror printed (`%an <%ae>\0%aI\0%s`).
 * That output comes from the host: it goes through the metadata schema like any metadata read back.
 */
export function withCommitDetails(revision: Revision | null, output: string): Revision | null {
  if (!revision) return revision;
  const fields = output.replace(/\n$/, "").split("\0");
  if (fields.length !== 3) return revision;
  const [author, date, subject] = fields;
  const checked = parseReleaseMeta(
    JSON.stringify({ id: "x", state: "ready", revision: { ...revision, author, date, subject } }),
  );
  return checked?.revision ?? revision;
}
