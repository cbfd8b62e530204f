import { execFile, spawn } from "node:child_process";
import { lstatSync, readdirSync, readlinkSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import { compileExcludes, type ExcludeMatcher, findPrunes } from "../plan/exclude-match.js";
import { makeRunDir } from "./run-dirs.js";

/** One entry of the source with what the index needs of its inode; the same however it was listed. */
export interface Listed {
  /** "." for the source root, else relative ("a/b"). */
  readonly name: string;
  readonly type: "f" | "d" | "l" | "o";
  /** Permission bits in octal, as find's %m prints them. */
  readonly mode: string;
  readonly size: number;
  readonly ino: string;
  /** "seconds.nanoseconds". */
  readonly mtime: string;
  readonly ctime: string;
  readonly uid: number;
  readonly gid: number;
  /** A symlink's target, else "". */
  readonly link: string;
}

/**
 * Every entry rsync would send from `from` with these excludes. GNU find walks and stats the tree
 * in its own process (the deploying process meanwhile waits for the hosts' locks, not for
 * 5,000 lstat calls); without GNU find the tree is walked here. Patterns this machine does not
 * model make rsync list the source. Undefined when a name or link target is not UTF-8: rsync would
 * send it as bytes this machine cannot read back the same, so the caller uploads the classic way.
 */
export async function listSource(from: string, exclude: readonly string[]): Promise<Listed[] | undefined> {
  const matcher = compileExcludes(exclude);
  if (!matcher) return rsyncListed(from, exclude);
  const listed = (await findTree(from, findPrunes(exclude))) ?? walkTree(from, matcher);
  // Before matching: a `?` would match the 3-byte U+FFFD a stray byte reads as, where rsync sees 1 byte.
  return listed?.every(readBack) ? listed.filter(notExcluded(matcher)) : undefined;
}

const readBack = (e: Listed) => !e.name.includes("\uFFFD") && !e.link.includes("\uFFFD");

/**
 * A filter for a pre-order listing: drops excluded entries and everything under an excluded
 * directory (which follows it directly: a directory's entries come right after it).
 */
function notExcluded(excluded: ExcludeMatcher): (e: Listed) => boolean {
  let skipped: string | undefined;
  return (e) => {
    if (e.name === ".") return true;
    if (skipped !== undefined && e.name.startsWith(skipped)) return false;
    skipped = undefined;
    if (!excluded(e.name, e.type === "d")) return true;
    if (e.type === "d") skipped = `${e.name}/`;
    return false;
  };
}

const FIELDS = 10;
const FORMAT = "%y\\0%m\\0%s\\0%i\\0%T@\\0%C@\\0%U\\0%G\\0%l\\0%p\\0";

/**
 * The tree listed by GNU find, in pre-order; `prunes` name directories it need not descend into
 * (each is excluded anyway). Its output is read as it comes, while find still walks. Undefined
 * when find cannot do it (not GNU find, an unreadable directory): the tree is then walked here,
 * where an unreadable directory fails as it would.
 */
export function findTree(from: string, prunes: readonly string[][]): Promise<Listed[] | undefined> {
  const prune =
    prunes.length === 0
      ? []
      : ["(", "-path", "./*", "-type", "d", "(", ...orAll(prunes), ")", "-prune", ")", "-o"];
  const args = [".", ...prune, "-printf", FORMAT];
  return new Promise((resolve) => {
    const listed: Listed[] = [];
    const decoder = new StringDecoder("utf8");
    // The fields of a record not yet whole, joined by NUL as printed.
    let rest = "";
    const take = (text: string) => {
      const f = (rest + text).split("\0");
      // The last field is not yet ended by its NUL.
      const whole = Math.floor((f.length - 1) / FIELDS) * FIELDS;
      for (let i = 0; i < whole; i += FIELDS) listed.push(recordAt(f, i));
      rest = f.slice(whole).join("\0");
    };
    // C locale: a pattern's `?` is one byte, as it is to rsync.
    const child = spawn("find", args, {
      cwd: from,
      stdio: ["ignore", "pipe", "ignore"],
      env: { ...process.env, LC_ALL: "C" },
    });
    // Heard first: a spawn without descriptors left has no pipes (see ShellSession.start).
    child.on("error", () => resolve(undefined));
    child.stdout?.on("data", (chunk: Buffer) => take(decoder.write(chunk)));
    child.on("close", (code) => {
      take(decoder.end());
      resolve(code === 0 && rest === "" && listed[0]?.name === "." ? listed : undefined);
    });
  });
}

function orAll(tests: readonly string[][]): string[] {
  return tests.flatMap((t, i) => (i === 0 ? t : ["-o", ...t]));
}

/** find's record of FIELDS fields starting at `i`. */
function recordAt(f: readonly string[], i: number): Listed {
  const p = f[i + 9]!;
  return {
    name: p === "." ? "." : p.slice(2),
    type: typeOf(f[i]!),
    mode: f[i + 1]!,
    size: Number(f[i + 2]),
    ino: f[i + 3]!,
    mtime: nanoTime(f[i + 4]!),
    ctime: nanoTime(f[i + 5]!),
    uid: Number(f[i + 6]),
    gid: Number(f[i + 7]),
    link: f[i + 8]!,
  };
}

const typeOf = (y: string): Listed["type"] => (y === "f" || y === "d" || y === "l" ? y : "o");

/** find's %T@ ("1732999999.1234567890") as "seconds.nanoseconds", nine digits. */
function nanoTime(text: string): string {
  const dot = text.indexOf(".");
  if (dot > 0 && text.length - dot > 9) return text.slice(0, dot + 10); // GNU find prints ten digits
  const [seconds, fraction = ""] = text.split(".");
  return `${seconds}.${fraction.slice(0, 9).padEnd(9, "0")}`;
}

export function mtimeText(ns: bigint): string {
  return `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, "0")}`;
}

/** An entry from its lstat (the root through a link, as rsync takes "from/"). */
function statListed(from: string, name: string): Listed {
  const full = name === "." ? from : path.join(from, name);
  const st = name === "." ? statSync(full, { bigint: true }) : lstatSync(full, { bigint: true });
  const type = st.isFile() ? "f" : st.isDirectory() ? "d" : st.isSymbolicLink() ? "l" : "o";
  return {
    name,
    type,
    mode: (Number(st.mode) & 0o7777).toString(8),
    size: Number(st.size),
    ino: String(st.ino),
    mtime: mtimeText(st.mtimeNs),
    ctime: mtimeText(st.ctimeNs),
    uid: Number(st.uid),
    gid: Number(st.gid),
    link: type === "l" ? readlinkSync(full) : "",
  };
}

/**
 * The tree walked here, in pre-order, not descending into directories the patterns exclude;
 * undefined at a name that is not UTF-8 (it cannot even be stat'ed by the name Node gives it).
 */
function walkTree(from: string, excluded: ExcludeMatcher): Listed[] | undefined {
  const listed = [statListed(from, ".")];
  let unreadable = false;
  const visit = (dir: string, prefix: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const name = `${prefix}${e.name}`;
      if (name.includes("\uFFFD")) unreadable = true;
      if (unreadable) return;
      listed.push(statListed(from, name));
      if (e.isDirectory() && !excluded(name, true)) visit(path.join(dir, e.name), `${name}/`);
    }
  };
  visit(from, "");
  return unreadable ? undefined : listed;
}

async function rsyncListed(from: string, exclude: readonly string[]): Promise<Listed[] | undefined> {
  const listed = (await rsyncNames(from, exclude))?.map((name) => statListed(from, name));
  return listed?.every(readBack) ? listed : undefined;
}

/** rsync's own list of what it would send, names decoded from its \#ooo escapes; "." is the root. */
export function rsyncNames(from: string, exclude: readonly string[]): Promise<string[] | undefined> {
  const scratch = makeRunDir("list");
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
