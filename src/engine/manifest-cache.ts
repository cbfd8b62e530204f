import { createHash } from "node:crypto";
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { cacheDir } from "./hash-cache.js";

const KEEP = 40;
const dir = () => path.join(cacheDir(), "manifests");
const hexOf = (checksum: string) => /^sha256:([0-9a-f]{64})$/.exec(checksum)?.[1];

/**
 * Release manifests this machine recorded, by checksum: the next deploy needs the previous release's
 * manifest and should not fetch it again. A file is used only if its content has that checksum.
 */
export function recallManifest(checksum: string): string | undefined {
  const hex = hexOf(checksum);
  if (!hex) return undefined;
  try {
    const text = readFileSync(path.join(dir(), hex), "utf8");
    return createHash("sha256").update(text).digest("hex") === hex ? text : undefined;
  } catch {
    return undefined;
  }
}

export function rememberManifest(text: string, checksum: string): void {
  const hex = hexOf(checksum);
  if (!hex) return;
  try {
    mkdirSync(dir(), { recursive: true });
    const tmp = path.join(dir(), `.${hex}.${process.pid}`);
    writeFileSync(tmp, text);
    renameSync(tmp, path.join(dir(), hex));
    prune();
  } catch {
    // A read-only home: the next deploy fetches the manifest from the host.
  }
}

/** Only this cache's own files: 64-hex names. */
function prune(): void {
  const files = readdirSync(dir())
    .filter((f) => /^[0-9a-f]{64}$/.test(f))
    .map((f) => ({ f, at: statSync(path.join(dir(), f)).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const { f } of files.slice(KEEP)) unlinkSync(path.join(dir(), f));
}
