import { CutoverError } from "../errors.js";
import { diffManifests, type ReleaseDiff } from "../plan/diff.js";
import type { Layout } from "../plan/layout.js";
import { buildManifest } from "../plan/manifest.js";
import type { ReleaseMeta } from "../plan/release-meta.js";
import { nameText } from "../report/colors.js";
import { listRelease } from "./list-release.js";
import { recordedManifest } from "./manifest-cache.js";
import type { StepContext } from "./steps.js";

/** How a release's files compare with the manifest its metadata records the checksum of. */
export type ReleaseCheck =
  /** Its metadata records no checksum (adopted from another tool): nothing to compare with. */
  | { readonly kind: "unrecorded" }
  | { readonly kind: "same"; readonly checksum: string }
  | {
      readonly kind: "differs";
      readonly checksum?: string;
      /** What changed since the manifest was written; absent when that manifest cannot be read. */
      readonly changes?: ReleaseDiff;
      readonly why?: string;
    };

/**
 * Lists `id` and compares it with its recorded manifest. `quick`: a file not modified since that
 * manifest was written keeps the hash it records (a shared one by its mtime, as the deploy reuses
 * hashes; one of a single link by its ctime, see manifestProbe), so only new and modified files are
 * read; else every file is read (`verify`).
 * `excluded`: writable dirs, whose content is not recorded.
 */
export async function checkRelease(
  ctx: StepContext,
  l: Layout,
  meta: ReleaseMeta,
  excluded: readonly string[],
  quick: boolean,
): Promise<ReleaseCheck> {
  const recorded = meta.checksum;
  if (!recorded) return { kind: "unrecorded" };
  const dir = l.release(meta.id);
  const manifest = l.releaseManifest(meta.id);
  const reuse = quick ? { dir, manifest, checksum: recorded } : undefined;
  const listing = await listRelease(ctx, "check release files", dir, reuse);
  let built: { text: string; checksum: string };
  try {
    built = buildManifest(listing, excluded);
  } catch (error) {
    // A listing no manifest can vouch for (two names that read alike) is no match.
    if (!(error instanceof CutoverError)) throw error;
    return { kind: "differs", why: error.message };
  }
  if (built.checksum === recorded) return { kind: "same", checksum: recorded };
  const text = await recordedManifest(ctx, manifest, recorded);
  if (text === undefined)
    return {
      kind: "differs",
      checksum: built.checksum,
      why: "its recorded manifest is missing or changed, so the files that differ cannot be named",
    };
  return { kind: "differs", checksum: built.checksum, changes: diffManifests(text, built.text) };
}

const KINDS: readonly [keyof ReleaseDiff, string][] = [
  ["modified", "changed"],
  ["removed", "missing"],
  ["mode", "mode changed"],
  ["symlink", "link changed"],
  ["added", "not in its manifest"],
];

/** "2 changed (a.php, b.php), 1 missing (c.php)": at most three names per kind. */
export function summarizeChanges(
  changes: ReleaseDiff,
  kinds: readonly (keyof ReleaseDiff)[] = KINDS.map(([k]) => k),
): string {
  return KINDS.filter(([k]) => kinds.includes(k) && changes[k].length > 0)
    .map(([k, label]) => {
      const names = changes[k];
      const first = names.slice(0, 3).map(nameText).join(", ");
      return `${names.length} ${label} (${first}${names.length > 3 ? ", …" : ""})`;
    })
    .join(", ");
}

/** One line per path that differs, at most `max`. */
export function changeLines(
  changes: ReleaseDiff,
  kinds: readonly (keyof ReleaseDiff)[] = KINDS.map(([k]) => k),
  max = 20,
): string[] {
  const lines = KINDS.filter(([k]) => kinds.includes(k)).flatMap(([k, label]) =>
    changes[k].map((p) => `${label}: ${nameText(p)}`),
  );
  return lines.length > max ? [...lines.slice(0, max), `… and ${lines.length - max} more`] : lines;
}
