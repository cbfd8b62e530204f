import assert from "node:assert/strict";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { snapshot } from "./tree.js";

/** A small seeded PRNG (mulberry32): every failing seed can be replayed. */
export function rng(seed: number): {
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
} {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    chance: (p) => next() < p,
  };
}

const ODD_NAMES = [
  "x\nrelease ..",
  "..x",
  "-rf",
  "--",
  "@@hashes",
  "ünïcode ✓",
  " leading space",
  "20261127T101500Z\n",
  "20261127T1015",
  ".hidden",
  "a'b\"c$d`e",
];
const ID_LIKE = ["20200101T000000Z", "20210101T000000Z", "19990101T000000Z", "00000000T000000Z"];
const STATES = ["preparing", "ready", "live", "superseded", "rolled-back", "failed", "bad", "weird"];

function ensureDir(p: string) {
  mkdirSync(p, { recursive: true });
}

/**
 * Puts random junk into a deploy path, as other tools, people and crashes leave it: odd names in
 * releases/ and .cutover/tmp, hostile and truncated metadata, symlinks to `outside`, and a `current`
 * that points outside releases/, absolutely, relatively or nowhere.
 */
export function scramble(root: string, outside: string, seed: number): string[] {
  const r = rng(seed);
  const did: string[] = [];
  const releases = path.join(root, "releases");
  const metaDir = path.join(root, ".cutover/releases");
  const tmp = path.join(root, ".cutover/tmp");
  ensureDir(releases);
  ensureDir(metaDir);
  ensureDir(tmp);
  for (let i = r.int(4); i > 0; i--) {
    const name = r.pick(ODD_NAMES);
    const p = path.join(releases, name);
    if (existsSync(p)) continue;
    if (r.chance(0.5)) {
      ensureDir(p);
      writeFileSync(path.join(p, "data.txt"), `junk ${seed}`);
    } else symlinkSync(outside, p);
    did.push(`releases/${JSON.stringify(name)}`);
  }
  for (let i = r.int(3); i > 0; i--) {
    const id = r.pick(ID_LIKE);
    const p = path.join(releases, id);
    if (existsSync(p) || isLink(p)) continue;
    const kind = r.int(3);
    if (kind === 0) {
      ensureDir(p);
      writeFileSync(path.join(p, "index.php"), "someone else's");
    } else if (kind === 1) symlinkSync(outside, p);
    else writeFileSync(p, "a file named like a release");
    did.push(`releases/${id} (${["dir without metadata", "symlink outside", "file"][kind]})`);
  }
  for (let i = r.int(4); i > 0; i--) {
    const fileId = r.pick([...ID_LIKE, "x", ""]);
    const id = r.pick([fileId, fileId, "", "../shared", "..", "/", "../../outside", "20301231T235959Z"]);
    const state = r.pick(STATES);
    const text = r.pick([
      JSON.stringify({ id, state, stage: "s", who: "w", revision: null, started_at: "t" }),
      JSON.stringify({ id, state }),
      JSON.stringify({ id, state, revision: {}, who: 7 }),
      `{"id":"${fileId}","state":"${state}"`,
      "null",
      "[]",
    ]);
    writeFileSync(path.join(metaDir, `${fileId}.json`), text);
    did.push(`metadata ${fileId}.json = ${text.slice(0, 60)}`);
  }
  for (let i = r.int(3); i > 0; i--) {
    const name = r.pick([...ODD_NAMES, "php-x", "current.bak"]);
    const p = path.join(tmp, name);
    if (existsSync(p) || isLink(p)) continue;
    if (r.chance(0.5)) symlinkSync(outside, p);
    else writeFileSync(p, "tmp junk");
    did.push(`.cutover/tmp/${JSON.stringify(name)}`);
  }
  const current = path.join(root, "current");
  const target = isLink(current) ? readlinkSync(current) : undefined;
  switch (r.int(6)) {
    case 0:
      if (target) {
        relink(current, path.resolve(root, target));
        did.push("current made absolute");
      }
      break;
    case 1:
      relink(current, outside);
      did.push("current points outside releases/");
      break;
    case 2:
      relink(current, "releases/20991231T235959Z");
      did.push("current dangling");
      break;
    default:
      break;
  }
  return did;
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function relink(link: string, target: string) {
  const tmp = `${link}.fuzz-tmp`;
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  renameSync(tmp, link);
}

const ID = /^\d{8}T\d{6}Z$/;

export interface State {
  readonly snap: Map<string, string>;
  /** Releases that are provably cutover's: id name, a real directory, metadata naming that id. */
  readonly own: ReadonlySet<string>;
  /** Ids whose metadata file names its own id: cutover's records, which it may rewrite. */
  readonly ownMeta: ReadonlySet<string>;
}

/** A deploy path's state, with what is provably cutover's own judged independently of its code. */
export function readState(root: string): State {
  const snap = snapshot(root);
  const ownMeta = new Set<string>();
  for (const p of snap.keys()) {
    const id = /^\.cutover\/releases\/(\d{8}T\d{6}Z)\.json$/.exec(p)?.[1];
    if (!id) continue;
    try {
      const meta = JSON.parse(readFileSync(path.join(root, p), "utf8")) as { id?: unknown } | null;
      if (meta?.id === id) ownMeta.add(id);
    } catch {
      // not JSON: not cutover's record
    }
  }
  const own = new Set<string>();
  for (const [p, v] of snap) {
    const id = /^releases\/([^/]+)$/.exec(p)?.[1];
    if (id && ID.test(id) && v.startsWith("dir") && ownMeta.has(id)) own.add(id);
  }
  return { snap, own, ownMeta };
}

/**
 * Only cutover's own may have changed: its releases (never the one that was live), its
 * bookkeeping under .cutover and the `current` link. Everything else must be byte-identical.
 */
export function assertOnlyOwnChanged(
  before: State,
  after: Map<string, string>,
  liveBefore: string | undefined,
  context: string,
): void {
  for (const [p, v] of before.snap) {
    const release = /^releases\/([^/]+)/.exec(p)?.[1];
    const mayChange =
      p === "current" ||
      p.startsWith(".cutover/history.jsonl") ||
      p.startsWith(".cutover/lock") ||
      /^\.cutover\/tmp\/(current|php-\d{8}T\d{6}Z)(\/|$)/.test(p) ||
      before.ownMeta.has(/^\.cutover\/releases\/(\d{8}T\d{6}Z)\.(json|manifest)$/.exec(p)?.[1] ?? "") ||
      (release !== undefined && before.own.has(release) && release !== liveBefore);
    if (mayChange) continue;
    assert.equal(after.get(p), v, `${context}: ${p} changed or was removed (it is not provably cutover's)`);
  }
}
