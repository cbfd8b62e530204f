import { createHash } from "node:crypto";
import { lstatSync, readdirSync, unlinkSync } from "node:fs";
import path from "node:path";
import { privateCacheDir, readPrivate, writePrivate } from "./private-cache.js";

const KEEP = 40;
const hexOf = (checksum: string) => /^sha256:([0-9a-f]{64})$/.exec(checksum)?.[1];

/** Manifests this process recalled, by checksum (their content is what the checksum names). */
const recalled = new Map<string, string>();

/**
 * Release manifests this machine recorded, by checksum: the next deploy needs the previous release's
 * manifest and should not fetch it again. A file is used only if its content has that checksum.
 */
export function recallManifest(checksum: string): string | undefined {
  const known = recalled.get(checksum);
  if (known !== undefined) return known;
  const hex = hexOf(checksum);
  const dir = hex ? privateCacheDir("manifests") : undefined;
  const data = dir ? readPrivate(path.join(dir, hex!)) : undefined;
  if (!data || createHash("sha256").update(data).digest("hex") !== hex) return undefined;
  const text = data.toString("utf8");
  // A run asks for the same few manifests again (a speculative decision, then each host's).
  recalled.set(checksum, text);
  if (recalled.size > 4) recalled.delete(recalled.keys().next().value!);
  return text;
}

/**
 * The manifest this machine recorded last (most likely the previous release of the next deploy from
 * here), with its checksum; only looks, never creates the cache.
 */
export function newestManifest(): { checksum: string; text: string } | undefined {
  const dir = privateCacheDir("manifests", false);
  if (!dir) return undefined;
  try {
    const newest = ownFiles(dir)[0];
    const checksum = newest && `sha256:${newest.f}`;
    const text = checksum ? recallManifest(checksum) : undefined;
    return checksum && text !== undefined ? { checksum, text } : undefined;
  } catch {
    return undefined;
  }
}

export function rememberManifest(text: string, checksum: string): void {
  const hex = hexOf(checksum);
  const dir = hex ? privateCacheDir("manifests") : undefined;
  if (!dir) return;
  writePrivate(path.join(dir, hex!), text);
  try {
    prune(dir);
  } catch {
    // Another deploy pruning at the same time: the next one prunes.
  }
}

/** This cache's own files, newest first: regular files with 64-hex names (nothing is followed). */
function ownFiles(dir: string): { f: string; at: number }[] {
  return readdirSync(dir)
    .filter((f) => /^[0-9a-f]{64}$/.test(f))
    .map((f) => ({ f, st: lstatSync(path.join(dir, f)) }))
    .filter(({ st }) => st.isFile())
    .map(({ f, st }) => ({ f, at: st.mtimeMs }))
    .sort((a, b) => b.at - a.at);
}

function prune(dir: string): void {
  for (const { f } of ownFiles(dir).slice(KEEP)) unlinkSync(path.join(dir, f));
}
