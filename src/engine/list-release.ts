import { fieldAt } from "../plan/fields.js";
import {
  hashProbe,
  type Listing,
  manifestProbe,
  parseHashes,
  parseListing,
  unhashed,
} from "../plan/manifest.js";
import { atOrBelow, mergeRelisted, relistEnd, relistProbe, splitRelisted } from "../plan/relist.js";
import type { AfterUpload } from "../plan/steps.js";
import { chunkArgs } from "../shell/chunks.js";
import type { Cmd } from "../shell/cmd.js";
import { recallManifest } from "./manifest-cache.js";
import { runStep, type StepContext } from "./steps.js";

const hashCmds = (dir: string, paths: readonly string[]) => chunkArgs(paths).map((p) => hashProbe(dir, p));

/** The previous release, with the checksum its metadata records for its manifest. */
type Reuse = { dir: string; manifest: string; checksum: string };

/** Lists a release with a hash for every file: reused where possible, the rest read on the host. */
export async function listRelease(
  ctx: StepContext,
  title: string,
  dir: string,
  reuse?: Reuse,
): Promise<Listing> {
  return (await listReleaseAfter(ctx, title, dir, [], reuse)).listing;
}

/**
 * listRelease with `before` run first in its round trip, and what they printed, which must hold no
 * field "@@entries" (the listing's first). `stamp`: the listing a manifest is made from (see
 * manifestProbe).
 */
export async function listReleaseAfter(
  ctx: StepContext,
  title: string,
  dir: string,
  before: readonly Cmd[],
  reuse?: Reuse,
  stamp = false,
): Promise<{ listing: Listing; printed: string }> {
  const known = reuse ? recallManifest(reuse.checksum) : undefined;
  const list = manifestProbe(dir, reuse, known !== undefined, stamp);
  const output = (await runStep(ctx, title, [...before, list])).stdout.toString("utf8");
  const at = Math.max(0, fieldAt(output, "@@entries"));
  const listing = parseListing(output.slice(at), known, reuse?.checksum);
  return { listing: await hashMissing(ctx, title, dir, listing), printed: output.slice(0, at) };
}

/**
 * The listing of a release whose delta upload was checked (`checked`, see plan/delta-check.ts),
 * after only cutover's own changes (shared paths made links, writable dirs copied in place): those
 * paths and their parents are listed again, the files rsync sent hashed and the linked files
 * newer than the previous manifest hashed again, in one round trip that runs `first` before
 * (they must print nothing) and `also` after (its output returned as is). These are its commands;
 * `listing`: the check's listing (or the one it will give, when they run in its round trip).
 */
export function relistCmds(
  dir: string,
  previousManifest: string,
  listing: Listing,
  changed: AfterUpload,
  first: readonly Cmd[],
  also: readonly Cmd[],
): Cmd[] {
  const linked = atOrBelow(changed.shared);
  const sent = unhashed(listing).filter((p) => !linked(p));
  return [
    ...first,
    relistProbe(dir, previousManifest, [...changed.shared, ...changed.writable]),
    ...hashCmds(dir, sent),
    relistEnd,
    ...also,
  ];
}

/**
 * What relistCmds printed, merged into the check's listing (files still unhashed are hashed in a
 * round trip of their own). `edited`: linked files whose content changed since (see mergeRelisted).
 */
export async function readRelisted(
  ctx: StepContext,
  title: string,
  dir: string,
  checked: Listing,
  changed: AfterUpload,
  output: string,
): Promise<{ listing: Listing; edited: string[]; also: string }> {
  const { listed, rest } = splitRelisted(output);
  const merged = mergeRelisted(checked, changed.shared, listed);
  const listing = await hashMissing(ctx, title, dir, merged.listing);
  return { listing, edited: merged.edited, also: rest };
}

async function hashMissing(ctx: StepContext, title: string, dir: string, listing: Listing): Promise<Listing> {
  const missing = unhashed(listing);
  if (missing.length === 0) return listing;
  // Every batch in one round trip: their outputs are hash records one after another.
  const { stdout } = await runStep(ctx, title, hashCmds(dir, missing));
  return { ...listing, hashes: parseHashes(stdout.toString("utf8").split("\0"), new Map(listing.hashes)) };
}
