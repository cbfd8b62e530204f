import { createHash } from "node:crypto";
import { lstatSync, readdirSync, unlinkSync } from "node:fs";
import path from "node:path";
import { privateCacheDir, readPrivate, writePrivate } from "./private-cache.js";

const KEEP = 40;
const hexOf = (checksum: string) => /^sha256:([0-9a-f]{64})$/.exec(checksum)?.[1];

/**
 * Release manifests this machine recorded, by checksum: the next deploy needs the previous release's
 * manifest and should not fetch it again. A file is used only if its content has that checksum.
 */
export function recallManifest(checksum: string): string | undefined {
  const hex = hexOf(checksum);
  const dir = hex ? privateCacheDir("manifests") : undefined;
  const data = dir ? readPrivate(path.join(dir, hex!)) : undefined;
  if (!data) return undefined;
  return createHash("sha256").update(data).digest("hex") === hex ? data.toString("utf8") : undefined;
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

/** Only this cache's own files: regular files with 64-hex names (nothing is followed). */
function prune(dir: string): void {
  const files = readdirSync(dir)
    .filter((f) => /^[0-9a-f]{64}$/.test(f))
    .map((f) => ({ f, st: lstatSync(path.join(dir, f)) }))
    .filter(({ st }) => st.isFile())
    .map(({ f, st }) => ({ f, at: st.mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const { f } of files.slice(KEEP)) unlinkSync(path.join(dir, f));
}
