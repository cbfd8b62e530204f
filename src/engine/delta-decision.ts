import { type DeltaDecision, decideDelta, inlineable, type SourceEntry } from "../plan/delta.js";
import { predictedListing } from "../plan/delta-check.js";
import { type ManifestEntry, manifestEntries } from "../plan/diff.js";
import type { Listing } from "../plan/manifest.js";
import type { DeltaBase } from "../plan/steps.js";
import { newestManifest, recordedManifest } from "./manifest-cache.js";
import type { StepContext } from "./steps.js";

/** What a delta upload links: the previous release's manifest, read, and the decision against the source. */
export interface Decided {
  /** The previous release's manifest, as read (or recalled), and its entries. */
  readonly text: string;
  readonly previous: ReadonlyMap<string, ManifestEntry>;
  readonly decision: DeltaDecision;
  /** The source's entries to send, and whether they are few and small enough to write inline. */
  readonly sending: readonly SourceEntry[];
  readonly inline: boolean;
  /** The listing the upload's check will give if it passes (see predictedListing). */
  predicted(): Listing;
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
  const text = await recordedManifest(ctx, base.manifest, base.checksum);
  return text === undefined ? undefined : decided(source, base.checksum, text);
}

function decided(
  source: readonly SourceEntry[],
  checksum: string,
  text: string,
  previous?: ReadonlyMap<string, ManifestEntry>,
): Decided {
  let byChecksum = decisions.get(source);
  if (!byChecksum) {
    byChecksum = new Map();
    decisions.set(source, byChecksum);
  }
  let made = byChecksum.get(checksum);
  if (!made) {
    made = decide(source, text, previous ?? manifestEntries(text));
    byChecksum.set(checksum, made);
  }
  return made;
}

function decide(
  source: readonly SourceEntry[],
  text: string,
  previous: ReadonlyMap<string, ManifestEntry>,
): Decided {
  const decision = decideDelta(source, previous);
  const byPath = new Map(source.map((e) => [e.path, e]));
  const sending = decision.send.map((p) => byPath.get(p)!);
  const inline = inlineable(decision, sending);
  let predicted: Listing | undefined;
  return {
    text,
    previous,
    decision,
    sending,
    inline,
    predicted: () => {
      const written = inline ? sending.filter((e) => e.type === "f").map((e) => e.path) : [];
      predicted ??= predictedListing(source, decision.link, written, previous);
      return predicted;
    },
  };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Made while the hosts connect: the decision (and the listing its check will give) against the
 * manifest this machine recorded last, most likely their previous release's (decideOnce then finds
 * it made; a host on another release is decided as before, when its manifest is known). The
 * manifest is parsed while `index` is made (find walks the source in its own process) and the
 * decision made as soon as the index is: before an upload awaiting the same index asks for it.
 * Each part waits its turn, so a host's answer meanwhile is read without waiting for all of it.
 */
export async function decideAhead(
  index: Promise<readonly SourceEntry[] | undefined>,
): Promise<Decided | undefined> {
  // A failed index is none here (the upload makes it again and tells why), and never left unhandled.
  const indexed = index.catch(() => undefined);
  const newest = newestManifest();
  if (!newest) return undefined;
  await nextTurn();
  const previous = manifestEntries(newest.text);
  const source = await indexed;
  if (!source) return undefined;
  const ahead = decided(source, newest.checksum, newest.text, previous);
  await nextTurn();
  ahead.predicted();
  return ahead;
}
