import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  type Stats,
  statSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import type { SourceEntry } from "../plan/delta.js";
import { compileExcludes, type ExcludeMatcher } from "../plan/exclude-match.js";
import { HashCache } from "./hash-cache.js";

/**
 * Every entry rsync would send from `from` with these excludes (walked here when the patterns are
 * simple, else rsync names them: a dry run into a path that does not exist lists each entry once), with its type, mode, size, link target and
 * (files) sha256. Hashes are kept in a cache keyed by inode, size, mtime and ctime, so an incremental
 * deploy reads only the files that changed. Undefined when rsync names something this machine cannot
 * read back the same (a name that is not UTF-8): the caller then uploads the classic way.
 */
export async function indexSource(
  from: string,
  exclude: readonly string[],
  remember = true,
): Promise<SourceEntry[] | undefined> {
  const names = await sourceNames(from, exclude);
  if (names === undefined) return undefined;
  const cache = remember ? HashCache.open(from) : HashCache.none();
  const entries: SourceEntry[] = [];
  const uid = process.getuid?.() ?? -1;
  const gid = process.getgid?.() ?? -1;
  for (const name of names) {
    // A name that is not UTF-8 reads back as U+FFFD and could name another file: rsync does it.
    if (name.includes("\uFFFD")) return undefined;
    const full = name === "." ? from : path.join(from, name);
    let st: Stats;
    try {
      // The root as rsync takes it ("from/"): through a link; everything else as it is.
      st = name === "." ? statSync(full) : lstatSync(full);
    } catch {
      return undefined; // renamed under us
    }
    const common = {
      path: name,
      mode: (st.mode & 0o7777).toString(8),
      size: st.size,
      own: st.uid === uid && st.gid === gid,
    };
    if (st.isFile()) {
      let hash = cache.get(name, st);
      if (hash === undefined) {
        hash = createHash("sha256").update(readFileSync(full)).digest("hex");
        cache.set(name, st, hash);
      }
      entries.push({ ...common, type: "f", hash, mtimeMs: st.mtimeMs });
    } else if (st.isDirectory()) entries.push({ ...common, type: "d" });
    else if (st.isSymbolicLink()) {
      const link = readlinkSync(full);
      if (link.includes("\uFFFD")) return undefined;
      entries.push({ ...common, type: "l", link });
    } else entries.push({ ...common, type: "o" });
  }
  cache.save();
  return entries;
}

/** A file's mtime as "seconds.nanoseconds" (as `touch -d @…` takes it), or undefined. */
export function mtimeOf(file: string): string | undefined {
  try {
    return mtimeText(lstatSync(file, { bigint: true }).mtimeNs);
  } catch {
    return undefined;
  }
}

export function mtimeText(ns: bigint): string {
  return `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, "0")}`;
}

/** What rsync would send: walked here when the excludes are simple, else listed by rsync. */
export function sourceNames(from: string, exclude: readonly string[]): Promise<string[] | undefined> {
  const matcher = compileExcludes(exclude);
  return matcher ? Promise.resolve(walk(from, matcher)) : rsyncNames(from, exclude);
}

/** The source's entries rsync would send, found here (see plan/exclude-match.ts). */
function walk(from: string, excluded: ExcludeMatcher): string[] {
  const names = ["."];
  const visit = (dir: string, prefix: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const name = `${prefix}${e.name}`;
      if (excluded(name, e.isDirectory())) continue;
      names.push(name);
      if (e.isDirectory()) visit(path.join(dir, e.name), `${name}/`);
    }
  };
  visit(from, "");
  return names;
}

/** rsync's own list of what it would send, names decoded from its \#ooo escapes; "." is the root. */
export function rsyncNames(from: string, exclude: readonly string[]): Promise<string[] | undefined> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), "cutover-list-"));
  const args = [
    "-a",
    "-n",
    "-8",
    "--out-format=%n",
    ...exclude.map((x) => `--exclude=${x}`),
    "--",
    `${from.replace(/\/+$/, "")}/`,
    `${path.join(scratch, "none")}/`,
  ];
  return new Promise((resolve, reject) => {
    execFile("rsync", args, { encoding: "buffer", maxBuffer: 1 << 30 }, (error, stdout, stderr) => {
      rmSync(scratch, { recursive: true, force: true });
      if (error) {
        reject(new Error(`rsync could not list ${from}: ${stderr.toString().trim().split("\n").pop()}`));
        return;
      }
      const names: string[] = [];
      for (const line of stdout.toString("latin1").split("\n")) {
        if (line === "") continue;
        const name = decodeRsyncName(line.replace(/\/$/, ""));
        if (name === undefined) return resolve(undefined);
        names.push(name === "." ? "." : name);
      }
      resolve(names);
    });
  });
}

/** rsync prints unprintable bytes (and a backslash before "#ddd") as \#ooo; the rest is raw bytes. */
export function decodeRsyncName(latin1: string): string | undefined {
  const bytes = Buffer.from(
    latin1.replace(/\\#([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))),
    "latin1",
  );
  const text = bytes.toString("utf8");
  return Buffer.from(text, "utf8").equals(bytes) ? text : undefined;
}
