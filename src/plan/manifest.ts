import { createHash } from "node:crypto";
import { type Cmd, shProgram } from "../shell/cmd.js";

/**
 * A release manifest lists every entry with its type, mode and content hash (symlinks with their
 * target). Its sha256 is the release checksum. The target only lists and hashes (GNU find,
 * sha256sum -z, NUL-separated so any file name survives); the canonical text is built here.
 */
const LIST = `set -e
cd -- "$1"
printf '@@entries\\0'
find . -mindepth 1 -printf '%y\\0%m\\0%s\\0%p\\0%l\\0'
printf '@@hashes\\0'
find . -type f -exec sha256sum -z -- {} +
`;

export function manifestProbe(releaseDir: string): Cmd {
  return shProgram(LIST, [releaseDir]);
}

export interface Manifest {
  readonly text: string;
  readonly checksum: string;
  readonly files: number;
  readonly bytes: number;
}

/** `excluded` are release paths whose content changes at run time by design (writable dirs). */
export function buildManifest(output: string, excluded: readonly string[]): Manifest {
  const fields = output.split("\0");
  const entriesAt = fields.indexOf("@@entries");
  const hashesAt = fields.indexOf("@@hashes");
  if (entriesAt < 0 || hashesAt < 0) throw new Error("unexpected manifest listing");
  const hashes = new Map<string, string>();
  for (const record of fields.slice(hashesAt + 1)) {
    if (record.length < 66) continue;
    hashes.set(record.slice(66).replace(/^\*/, ""), record.slice(0, 64));
  }
  const skip = (p: string) => excluded.some((x) => p === `./${x}` || p.startsWith(`./${x}/`));
  const lines: string[] = [];
  let files = 0;
  let bytes = 0;
  const entries = fields.slice(entriesAt + 1, hashesAt);
  for (let i = 0; i + 4 < entries.length; i += 5) {
    const [type, mode, size, p, link] = entries.slice(i, i + 5) as [string, string, string, string, string];
    if (skip(p) && !excluded.some((x) => p === `./${x}`)) continue;
    const name = JSON.stringify(p.slice(2));
    if (type === "f") {
      files += 1;
      bytes += Number(size);
      lines.push(`${name} f ${mode} ${hashes.get(p) ?? "unreadable"}`);
    } else if (type === "l") lines.push(`${name} l ${JSON.stringify(link)}`);
    else if (type === "d") lines.push(`${name} d ${mode}`);
    else lines.push(`${name} ${type}`);
  }
  lines.sort();
  const text = `${lines.join("\n")}\n`;
  return { text, checksum: `sha256:${createHash("sha256").update(text).digest("hex")}`, files, bytes };
}
