import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire, Module } from "node:module";
import path from "node:path";
import vm from "node:vm";

/**
 * Loads a CommonJS bundle with V8's code cache: the bytecode compiled in an earlier run is read
 * back instead of compiling the bundle (and the functions it ran) again. Node 20 has no compile
 * cache of its own (module.enableCompileCache came in 22.1), so the bundle is run as a vm.Script.
 *
 * V8 checks a cache only against the source's length, so the file name is a hash of the source
 * itself (and of Node's version, architecture and flags): a changed bundle never meets old bytecode.
 * The cache is best effort: a directory that is not private to this user, a file that is not
 * ours, an unreadable or rejected cache, a failed write, each only means compiling as usual.
 */
export interface CachedModule {
  readonly exports: unknown;
  /** How this load went: "used" (cache accepted), "rejected" (V8 refused it), "none". */
  readonly cache: "used" | "rejected" | "none";
  /**
   * Writes the cache (making its directory) if there was none or V8 rejected it; after the run,
   * so it holds what ran. Loading alone writes nothing.
   */
  save(): void;
}

/** Cache files this loader writes: `<sha256>.<kind>.v8`; nothing else in the directory is touched. */
const CACHE_FILE = /^[0-9a-f]{64}\.[a-z]+\.v8$/;
/** How many cache files are kept (several installed versions and kinds of run may alternate). */
const KEEP = 8;

export function loadWithCodeCache(file: string, cacheDir: string | undefined, kind: string): CachedModule {
  const source = readFileSync(file, "utf8");
  // V8 also refuses a cache made under other flags: runs with other flags get caches of their own.
  const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].join(" ");
  const key = createHash("sha256")
    .update(`${process.version} ${process.arch} ${flags}\0`)
    .update(source)
    .digest("hex");
  const cacheFile = cacheDir === undefined ? undefined : path.join(cacheDir, `${key}.${kind}.v8`);
  const cachedData = cacheFile !== undefined && isPrivateDir(cacheDir!) ? readOwnFile(cacheFile) : undefined;
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const cache = cachedData === undefined ? "none" : script.cachedDataRejected ? "rejected" : "used";
  const module = { exports: {} as unknown };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
  return {
    get exports() {
      return module.exports;
    },
    cache,
    save() {
      if (cacheDir === undefined || cacheFile === undefined || cache === "used") return;
      try {
        mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
        if (!isPrivateDir(cacheDir)) return;
        const temporary = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(temporary, script.createCachedData(), { mode: 0o600, flag: "wx" });
        renameSync(temporary, cacheFile);
        pruneOld(cacheDir);
      } catch {
        // best effort: the next run compiles as this one did
      }
    },
  };
}

/** A directory of this user's that no one else can write to; anything else is not used. */
function isPrivateDir(dir: string): boolean {
  try {
    const s = lstatSync(dir);
    return s.isDirectory() && s.uid === process.getuid?.() && (s.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** A regular file of this user's, not through a symlink; undefined if anything is off. */
function readOwnFile(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    const s = fstatSync(fd);
    if (!s.isFile() || s.uid !== process.getuid?.()) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Keeps the newest KEEP cache files; only files named as this loader names them are removed. */
function pruneOld(dir: string): void {
  const files = readdirSync(dir)
    .filter((name) => CACHE_FILE.test(name))
    .map((name) => ({ name, st: lstatSync(path.join(dir, name)) }))
    .filter(({ st }) => st.isFile())
    .map(({ name, st }) => ({ name, at: st.mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const old of files.slice(KEEP)) unlinkSync(path.join(dir, old.name));
}
