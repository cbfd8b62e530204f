import { type Cmd, shProgram } from "../shell/cmd.js";
import { jsonString, MANIFEST_LIMIT } from "./manifest.js";

/** What changed between two release manifests, by path. */
export interface ReleaseDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly modified: readonly string[];
  readonly mode: readonly string[];
  readonly symlink: readonly string[];
}

export interface ManifestEntry {
  readonly type: string;
  readonly mode?: string;
  readonly hash?: string;
  readonly target?: string;
}

const LINE = /^("(?:[^"\\]|\\.)*") (\S+)(?: (.*))?$/;
/**
 * LINE for a name without escapes or control characters (almost every name), which is then the
 * text between the quotes as it is: one JSON.parse fewer per line.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: raw, JSON.parse refuses them: such a name goes to LINE
const PLAIN_LINE = /^"([^"\\\x00-\x1f]*)" (\S+)(?: (.*))?$/;

/** A manifest's entries by release-relative name; lines that do not parse are no entry. */
export function manifestEntries(manifest: string): Map<string, ManifestEntry> {
  const map = new Map<string, ManifestEntry>();
  for (const line of manifest.split("\n")) {
    let m = PLAIN_LINE.exec(line);
    let name = m?.[1];
    if (!m) {
      m = LINE.exec(line);
      name = m ? jsonString(m[1]!) : undefined;
    }
    if (name === undefined) continue; // the host's manifest is not trusted: a bad line is no entry
    const type = m![2]!;
    const rest = m![3] ?? "";
    if (type === "f") {
      const [mode, hash] = rest.split(" ");
      map.set(name, { type, mode, hash });
    } else if (type === "l") map.set(name, { type, target: jsonString(rest) ?? "?" });
    else map.set(name, { type, mode: rest || undefined });
  }
  return map;
}

export function diffManifests(from: string, to: string): ReleaseDiff {
  const a = manifestEntries(from);
  const b = manifestEntries(to);
  const diff = {
    added: [] as string[],
    removed: [] as string[],
    modified: [] as string[],
    mode: [] as string[],
    symlink: [] as string[],
  };
  for (const [name, was] of a) {
    const now = b.get(name);
    if (!now) diff.removed.push(name);
    else if (was.type !== now.type) diff.modified.push(name);
    else if (was.type === "l" && was.target !== now.target) diff.symlink.push(name);
    else if (was.type === "f" && was.hash !== now.hash) diff.modified.push(name);
    else if (was.mode !== now.mode) diff.mode.push(name);
  }
  for (const name of b.keys()) if (!a.has(name)) diff.added.push(name);
  for (const list of Object.values(diff)) list.sort();
  return diff;
}

// Only a regular file, not through a link: a fifo would hold the read, /dev/zero never end it.
const READ_MANIFEST = `[ -f "$1" ] && [ ! -L "$1" ] || exit 3
head -c "$2" -- "$1"
`;

/** A release's manifest as the host has it; exit 3 when that is no regular file. */
export function readManifest(file: string): Cmd {
  return shProgram(READ_MANIFEST, [file, String(MANIFEST_LIMIT)], {
    quiet: true,
    label: "read its manifest",
  });
}
