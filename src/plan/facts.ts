/** HostFacts: what the facts probe (facts-probe.ts) prints, parsed. Nothing read from a host is trusted. */
import { foreignLock, type LockStatus, parseLockOwner } from "./lock.js";
import type { ReleaseMeta } from "./release-meta.js";
import { ownMetas, resolvedRelease, sortReleaseEntries } from "./release-ownership.js";

export type CurrentLink =
  | {
      readonly kind: "link";
      /** The link text, exactly as read: what a switch back restores. */
      readonly target: string;
      /** What it resolves to on the host (empty: dangling). */
      readonly resolved: string;
      /** The release it resolves to, when that is a direct child of releases/ with an id name. */
      readonly release: string | undefined;
    }
  | { readonly kind: "dir" | "missing" | "other" | "file" };

export type PathKind = "dir" | "file" | "link" | "other" | "missing";
export type SharedKind = PathKind;

/** The directories cutover keeps under the deploy path. */
export const INNER_DIRS = ["releases", "shared", ".cutover", ".cutover/releases", ".cutover/tmp"] as const;
export type InnerDir = (typeof INNER_DIRS)[number];

export interface HostFacts {
  readonly root: "ok" | "missing" | "notdir";
  /** What taking the lock created (the deploy path, its .cutover), undone if the run stops before preparing. */
  readonly created: readonly ("root" | "meta")[];
  readonly writable: boolean;
  /** $HOME of the login on the host (a deploy path may not be it). */
  readonly home: string | undefined;
  /** rsync is in the login's PATH (every upload and extract needs it there). */
  readonly rsync: boolean;
  readonly inner: ReadonlyMap<InnerDir, PathKind>;
  readonly current: CurrentLink;
  /** `current` is a real directory with entries in it. */
  readonly currentHasEntries: boolean;
  /** Real directories directly in releases/ with an id-shaped name: the only ones cutover may own. */
  readonly releaseDirs: readonly string[];
  /** Everything else in releases/ (other names, symlinks, files): never touched, only reported. */
  readonly foreign: readonly string[];
  /** Regular files in releases/ named as the listing's clock probe: a killed run's, removed (CLOCK_PROBE). */
  readonly clockProbes: readonly string[];
  /** Metadata whose file name matches its id and that parses: the rest is in `problems`. */
  readonly metas: ReadonlyMap<string, ReleaseMeta>;
  readonly tmp: readonly string[];
  readonly shared: ReadonlyMap<string, SharedKind>;
  readonly availKb: number | undefined;
  readonly lock: LockStatus;
  /** Components: each other part's deploy path on this host, it and this one's resolved (realpath). */
  readonly apart: readonly { path: string; real: string; root: string }[];
  /** What was found that cutover does not understand and so leaves alone: one line each. */
  readonly problems: readonly string[];
}

/** Field counts of each record after its key. */
const ARITY: Record<string, number> = {
  "cutover-facts": 1,
  created: 1,
  home: 1,
  rsync: 1,
  root: 1,
  writable: 1,
  inner: 2,
  "lock-sum": 1,
  "releases-real": 1,
  "current-entries": 1,
  release: 2,
  meta: 2,
  tmp: 1,
  shared: 2,
  avail: 1,
  apart: 3,
};

function arity(key: string, next: string | undefined): number {
  if (key === "lock") return next === "acquired" ? 1 : 2;
  if (key === "current") return next === "link" ? 3 : 1;
  return ARITY[key] ?? -1;
}

const KINDS = new Set(["dir", "file", "link", "other", "missing"]);
const asKind = (k: string | undefined): PathKind => (KINDS.has(k ?? "") ? (k as PathKind) : "other");

export function parseFacts(deployPath: string, output: string, lockRequested: boolean): HostFacts {
  // A login shell's rc files may print a banner before the probe's first field: skip it.
  const start = output.indexOf("cutover-facts\u00002\u0000");
  const fields = output.slice(Math.max(0, start)).split("\0");
  if (fields[0] !== "cutover-facts" || fields[1] !== "2")
    throw new Error(`unexpected probe output: ${JSON.stringify(output.slice(0, 200))}`);
  let root: HostFacts["root"] = "missing";
  let writable = false;
  let home: string | undefined;
  let rsync = true;
  const created: ("root" | "meta")[] = [];
  const inner = new Map<InnerDir, PathKind>();
  let current: CurrentLink = { kind: "missing" };
  let currentHasEntries = false;
  let releasesReal = "";
  const entries: { kind: PathKind; name: string }[] = [];
  const metaFiles: { file: string; text: string }[] = [];
  const tmp: string[] = [];
  const shared = new Map<string, SharedKind>();
  let availKb: number | undefined;
  const apart: { path: string; real: string; root: string }[] = [];
  let lockSum = "";
  let lock: LockStatus = lockRequested
    ? { kind: "error", message: "the probe gave no lock answer" }
    : { kind: "free" };

  let i = 2;
  while (i < fields.length) {
    const key = fields[i]!;
    if (key === "" && i === fields.length - 1) break;
    const n = arity(key, fields[i + 1]);
    if (n < 0 || i + n >= fields.length)
      throw new Error(`unexpected probe output at field ${i}: ${JSON.stringify(key.slice(0, 80))}`);
    const v = fields.slice(i + 1, i + 1 + n);
    i += 1 + n;
    switch (key) {
      case "root":
        root = v[0] === "ok" || v[0] === "notdir" ? v[0] : "missing";
        break;
      case "created":
        if (v[0] === "root" || v[0] === "meta") created.push(v[0]);
        break;
      case "home":
        home = v[0] || undefined;
        break;
      case "rsync":
        rsync = v[0] !== "no";
        break;
      case "writable":
        writable = v[0] === "yes";
        break;
      case "inner":
        if ((INNER_DIRS as readonly string[]).includes(v[0]!)) inner.set(v[0] as InnerDir, asKind(v[1]));
        break;
      case "current":
        current =
          v[0] === "link"
            ? { kind: "link", target: v[1]!, resolved: v[2]!, release: undefined }
            : { kind: v[0] === "dir" || v[0] === "file" || v[0] === "missing" ? v[0] : "other" };
        break;
      case "releases-real":
        releasesReal = v[0]!;
        break;
      case "current-entries":
        currentHasEntries = v[0] === "yes";
        break;
      case "release":
        entries.push({ kind: asKind(v[0]), name: v[1]! });
        break;
      case "meta":
        metaFiles.push({ file: v[0]!, text: v[1]! });
        break;
      case "tmp":
        tmp.push(v[0]!);
        break;
      case "shared":
        shared.set(v[1]!, asKind(v[0]));
        break;
      case "apart":
        apart.push({ path: v[0]!, real: v[1]!, root: v[2]! });
        break;
      case "avail":
        availKb = v[0] && /^\d+$/.test(v[0]) ? Number(v[0]) : undefined;
        break;
      case "lock":
        if (v[0] === "acquired") lock = { kind: "acquired" };
        else if (v[0] === "held") lock = { kind: "held", owner: parseLockOwner(v[1]!), sum: "" };
        else if (v[0] === "foreign") lock = foreignLock(deployPath, asKind(v[1]));
        else lock = { kind: "error", message: v[1]! };
        break;
      case "lock-sum":
        lockSum = v[0]!;
        break;
    }
  }
  const { metas, problems } = ownMetas(metaFiles);
  const { releaseDirs, clockProbes, foreign } = sortReleaseEntries(entries, metas);
  if (foreign.length > 0)
    problems.push(
      `releases/ holds entries that are not cutover releases, left alone: ${foreign.map((n) => JSON.stringify(n)).join(", ")}`,
    );
  if (current.kind === "link")
    current = { ...current, release: resolvedRelease(current.resolved, releasesReal) };
  if (lock.kind === "held") lock = { ...lock, sum: lockSum };
  if (root === "ok") {
    for (const [dir, kind] of inner) {
      if (dir !== "shared" && kind !== "dir" && kind !== "missing")
        problems.push(`${deployPath}/${dir} is a ${kind}, not a directory`);
    }
  }
  return {
    root,
    created,
    writable,
    home,
    rsync,
    inner,
    current,
    currentHasEntries,
    releaseDirs,
    foreign,
    clockProbes,
    metas,
    tmp,
    shared,
    availKb,
    lock,
    apart,
    problems,
  };
}
