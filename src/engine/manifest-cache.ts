import { createHash } from "node:crypto";
import { lstatSync, readdirSync, unlinkSync } from "node:fs";
import path from "node:path";
import { readManifest } from "../plan/diff.js";
import { privateCacheDir, readPrivate, writePrivate } from "./private-cache.js";
import type { StepContext } from "./steps.js";

const KEEP = 40;
const hexOf = (checksum: string) => /^sha256:([0-9a-f]{64})$/.exec(checksum)?.[1];

/**
 * Manifests this process recalled, by file, with that file's identity when it was read and hashed:
 * a run asks for the same few again (a speculative decision, then each host's). A hit is used only
 * while the file is still that regular file of ours, unchanged (another cache directory, a planted
 * link or a rewritten file is read again); a file changed in the last second is not kept (a rewrite
 * within the filesystem's timestamp granularity would keep its identity), as with the hash cache.
 */
const recalled = new Map<string, { readonly id: string; readonly text: string }>();
const RACY_NS = 1_000_000_000n;

/** The identity of a regular file of this user's (never through a link), or undefined. */
function identity(file: string): { id: string; settled: boolean } | undefined {
  try {
    const s = lstatSync(file, { bigint: true });
    if (!s.isFile() || s.uid !== BigInt(process.getuid?.() ?? -1)) return undefined;
    // Any write sets ctime to now (mtime can be set to anything).
    const settled = BigInt(Date.now()) * 1_000_000n - s.ctimeNs > RACY_NS;
    return { id: `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`, settled };
  } catch {
    return undefined;
  }
}

/**
 * Release manifests this machine recorded, by checksum: the next deploy needs the previous release's
 * manifest and should not fetch it again. A file is used only if its content has that checksum.
 */
export function recallManifest(checksum: string): string | undefined {
  const hex = hexOf(checksum);
  const dir = hex ? privateCacheDir("manifests") : undefined;
  if (!dir) return undefined;
  const file = path.join(dir, hex!);
  const before = identity(file);
  if (!before) return undefined;
  const known = recalled.get(file);
  if (known && known.id === before.id) return known.text;
  const data = readPrivate(file);
  if (!data || createHash("sha256").update(data).digest("hex") !== hex) return undefined;
  const text = data.toString("utf8");
  // Kept only if the file read is the one whose identity was taken, settled.
  if (before.settled && identity(file)?.id === before.id) {
    recalled.delete(file);
    recalled.set(file, { id: before.id, text });
    if (recalled.size > 4) recalled.delete(recalled.keys().next().value!);
  }
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

/** Files this process wrote, with their identity then: a fleet's hosts seal the same manifest. */
const written = new Map<string, string>();

export function rememberManifest(text: string, checksum: string): void {
  const hex = hexOf(checksum);
  const dir = hex ? privateCacheDir("manifests") : undefined;
  if (!dir) return;
  const file = path.join(dir, hex!);
  const had = written.get(file);
  if (had !== undefined && identity(file)?.id === had) return;
  writePrivate(file, text);
  const now = identity(file)?.id;
  written.delete(file);
  if (now !== undefined) written.set(file, now);
  if (written.size > 8) written.delete(written.keys().next().value!);
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

/** A release's manifest: this machine's copy, else the host's (`file`) if it has the recorded checksum. */
export async function recordedManifest(
  ctx: StepContext,
  file: string,
  checksum: string,
): Promise<string | undefined> {
  const known = recallManifest(checksum);
  if (known !== undefined) return known;
  const { code, stdout } = await ctx.executor.run([readManifest(file)]);
  if (code !== 0) return undefined;
  const digest = `sha256:${createHash("sha256").update(stdout).digest("hex")}`;
  return digest === checksum ? stdout.toString("utf8") : undefined;
}
