import {
  hashProbe,
  type Listing,
  manifestProbe,
  parseHashes,
  parseListing,
  unhashed,
} from "../plan/manifest.js";
import { recallManifest } from "./manifest-cache.js";
import { runStep, type StepContext } from "./steps.js";

const BATCH = 500;

/** Lists a release with a hash for every file: reused where possible, the rest read on the host. */
export async function listRelease(
  ctx: StepContext,
  title: string,
  dir: string,
  reuse?: { dir: string; manifest: string; checksum?: string },
): Promise<Listing> {
  const known = reuse?.checksum ? recallManifest(reuse.checksum) : undefined;
  const { stdout } = await runStep(ctx, title, [manifestProbe(dir, reuse, known !== undefined)]);
  const listing = parseListing(stdout.toString("utf8"), known);
  const missing = unhashed(listing);
  if (missing.length === 0) return listing;
  const hashes = new Map(listing.hashes);
  for (let i = 0; i < missing.length; i += BATCH) {
    const out = await runStep(ctx, title, [hashProbe(dir, missing.slice(i, i + BATCH))]);
    parseHashes(out.stdout.toString("utf8").split("\0"), hashes);
  }
  return { ...listing, hashes };
}
