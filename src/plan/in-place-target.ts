import path from "node:path/posix";
import type { ResolvedHost } from "../config/resolve.js";
import { CutoverError, EXIT } from "../errors.js";
import { requireRsync } from "./deploy.js";
import type { HostFacts } from "./facts.js";
import { layout } from "./layout.js";

/** The release live on an in-place host: its metadata says so (there is no link to read). */
export function liveInPlace(facts: HostFacts): string | undefined {
  return [...facts.metas.values()]
    .filter((m) => m.state === "live")
    .map((m) => m.id)
    .sort()
    .at(-1);
}

/** A real `current` with files in it, on a deploy path where cutover never recorded a release: not cutover's to replace. */
export function foreignCurrent(facts: HostFacts): boolean {
  return facts.current.kind === "dir" && facts.currentHasEntries && facts.metas.size === 0;
}

const targetError = (message: string, fix: string) =>
  new CutoverError("target", message, { fix, exitCode: EXIT.usage });

/** An in-place deploy path must not hold the releases layout: mixing the two would serve neither. */
export function checkInPlaceTarget(host: ResolvedHost, facts: HostFacts): void {
  const l = layout(host.path);
  if (facts.root === "notdir")
    throw targetError(
      `${host.name}: deploy path ${l.root} exists and is not a directory`,
      "point `path:` at a directory",
    );
  if (facts.home !== undefined && path.normalize(facts.home) === l.root)
    throw targetError(
      `${host.name}: deploy path ${l.root} is the login's home directory`,
      "deploy into a directory of its own, e.g. ~/my-app",
    );
  requireRsync(host, facts);
  if (facts.current.kind === "link")
    throw targetError(
      `${host.name}: ${l.current} is a symlink (the releases layout), but strategy is in-place`,
      "keep strategy: releases for this deploy path (it is the stronger one), or deploy in-place to a new path",
    );
  if (facts.current.kind === "file" || facts.current.kind === "other")
    throw targetError(
      `${host.name}: ${l.current} exists and is not a directory`,
      "move it away, then deploy",
    );
  if (foreignCurrent(facts))
    throw targetError(
      `${host.name}: ${l.current} holds files cutover did not put there (no release of cutover's was ever recorded here); an in-place upload would delete what the build lacks`,
      "move it away (or its data into shared_dirs), then deploy",
    );
  if (facts.releaseDirs.length > 0)
    throw targetError(
      `${host.name}: ${l.releases} holds releases of strategy: releases, but strategy is in-place`,
      "keep strategy: releases for this deploy path, or deploy in-place to a new path",
    );
  for (const [dir, kind] of facts.inner) {
    if (dir === "shared" || dir === "releases" || kind === "dir" || kind === "missing") continue;
    throw targetError(
      `${host.name}: ${path.join(l.root, dir)} is a ${kind}, not a directory`,
      "move it away (it is left untouched), then run again",
    );
  }
}
