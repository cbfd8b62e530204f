import { createHash } from "node:crypto";
import { type DeltaDecision, decideDelta, type SourceEntry } from "../plan/delta.js";
import { type ManifestEntry, manifestEntries } from "../plan/diff.js";
import type { DeltaBase } from "../plan/steps.js";
import { shProgram } from "../shell/cmd.js";
import { recallManifest } from "./manifest-cache.js";
import type { StepContext } from "./steps.js";

/** What a delta upload links: the previous release's manifest, read, and the decision against the source. */
export interface Decided {
  /** The previous release's manifest, as read (or recalled), and its entries. */
  readonly text: string;
  readonly previous: ReadonlyMap<string, ManifestEntry>;
  readonly decision: DeltaDecision;
}

/**
 * Hosts on the same previous release (same manifest checksum) share the manifest's parse and the
 * link decision against the same source index: a fleet parses it once, not once per host. Each host
 * still reads (or recalls) and checks its own manifest: one whose file is not the recorded one falls
 * back as it would alone, and no host waits on another's read.
 */
const decisions = new WeakMap<readonly SourceEntry[], Map<string, Decided>>();

export async function decideOnce(
  ctx: StepContext,
  base: DeltaBase,
  source: readonly SourceEntry[],
): Promise<Decided | undefined> {
  const text = await baseManifest(ctx, base);
  if (text === undefined) return undefined;
  let byChecksum = decisions.get(source);
  if (!byChecksum) {
    byChecksum = new Map();
    decisions.set(source, byChecksum);
  }
  let decided = byChecksum.get(base.checksum);
  if (!decided) {
    const previous = manifestEntries(text);
    decided = { text, previous, decision: decideDelta(source, previous) };
    byChecksum.set(base.checksum, decided);
  }
  return decided;
}

/** Far above any real manifest (~100 bytes a file); a hostile "manifest" cannot fill this machine's memory. */
const MANIFEST_LIMIT = 256 * 1024 * 1024;

const READ_MANIFEST = `[ -f "$1" ] && [ ! -L "$1" ] || exit 3
head -c "$2" -- "$1"
`;

/** The base release's manifest: this machine's copy, else the host's if it has the recorded checksum. */
async function baseManifest(ctx: StepContext, base: DeltaBase): Promise<string | undefined> {
  const known = recallManifest(base.checksum);
  if (known !== undefined) return known;
  const { code, stdout } = await ctx.executor.run([
    shProgram(READ_MANIFEST, [base.manifest, String(MANIFEST_LIMIT)], {
      quiet: true,
      label: "read its manifest",
    }),
  ]);
  if (code !== 0) return undefined;
  const digest = `sha256:${createHash("sha256").update(stdout).digest("hex")}`;
  return digest === base.checksum ? stdout.toString("utf8") : undefined;
}
