import { type Cmd, shProgram } from "../shell/cmd.js";
import type { PathKind } from "./facts.js";
import { isIdShaped } from "./release-id.js";
import { parseSnapshotMeta, type SnapshotMeta } from "./snapshot-meta.js";

/**
 * Reads .cutover/snapshots on a host: every entry with its kind, and the metadata of real
 * directories. NUL-separated records, as in the facts probe, so no name can forge a record.
 */
const PROBE = `
root=$1
snaps=$root/.cutover/snapshots
put() { for f; do printf '%s\\000' "$f"; done; }
kind() { if [ -L "$1" ]; then echo link; elif [ -d "$1" ]; then echo dir; elif [ -f "$1" ]; then echo file; elif [ -e "$1" ]; then echo other; else echo missing; fi; }
put cutover-snapshots 1
put shared "$(kind "$root/shared")"
put dir "$(kind "$snaps")"
if [ -d "$snaps" ] && [ ! -L "$snaps" ]; then
  for e in "$snaps"/* "$snaps"/.[!.]* "$snaps"/..?*; do
    if [ -e "$e" ] || [ -L "$e" ]; then
      n=\${e##*/}
      put entry "$(kind "$e")" "$n"
      if [ -d "$e" ] && [ ! -L "$e" ] && { [ -e "$e/tree.old" ] || [ -L "$e/tree.old" ]; }; then put parked "$n"; fi
      # A restore cut short after putting databases back in place (N.done), before its swap.
      if [ -d "$e/db" ] && [ ! -L "$e" ] && [ ! -L "$e/db" ] && [ ! -e "$e/db/swapped" ]; then
        i=1
        while [ -f "$e/db/$i.done" ] && [ -f "$e/db/$i.rel" ] && [ ! -L "$e/db/$i.rel" ]; do
          put restored "$n" "$(head -c 4096 -- "$e/db/$i.rel" | tr -d '\\000')"
          i=$((i + 1))
        done
      fi
      if [ -d "$e" ] && [ ! -L "$e" ] && [ -f "$e/snapshot.json" ] && [ ! -L "$e/snapshot.json" ]; then
        put meta "$n" "$(head -c 65536 -- "$e/snapshot.json" | tr -d '\\000')"
      fi
    fi
  done
fi
`;

export function snapshotProbe(deployPath: string): Cmd {
  return shProgram(PROBE, [deployPath]);
}

export interface Snapshot {
  readonly id: string;
  readonly meta: SnapshotMeta;
}

export interface SnapshotFacts {
  /** What DEPLOY_PATH/shared is (restore refuses anything but a real directory). */
  readonly shared: PathKind;
  /** Real directories with an id name and metadata naming that id: cutover's own, oldest first. */
  readonly snapshots: readonly Snapshot[];
  /**
   * Work directories of an interrupted restore (`restore-<id>`): cutover's own, removed by prune;
   * not one holding tree.old (a shared/ tree a restore could not put back: a problem, kept).
   */
  readonly leftovers: readonly string[];
  /** What cutover does not understand here: reported, never touched. */
  readonly problems: readonly string[];
  /** Every name in .cutover/snapshots: a new id must be none of them. */
  readonly taken: readonly string[];
}

const KINDS = new Set(["dir", "file", "link", "other", "missing"]);
const asKind = (k: string | undefined): PathKind => (KINDS.has(k ?? "") ? (k as PathKind) : "other");
const ARITY: Record<string, number> = {
  "cutover-snapshots": 1,
  shared: 1,
  dir: 1,
  entry: 2,
  meta: 2,
  parked: 1,
  restored: 2,
};
const shown = (name: string) => JSON.stringify(name);

export function parseSnapshotFacts(output: string): SnapshotFacts {
  const fields = output.split("\0");
  if (fields[0] !== "cutover-snapshots" || fields[1] !== "1")
    throw new Error(`unexpected snapshot probe output: ${JSON.stringify(output.slice(0, 200))}`);
  let shared: PathKind = "missing";
  let dir: PathKind = "missing";
  const entries: { kind: PathKind; name: string }[] = [];
  const metas = new Map<string, string>();
  const parked = new Set<string>();
  const restored = new Map<string, string[]>();
  let i = 2;
  while (i < fields.length) {
    const key = fields[i]!;
    if (key === "" && i === fields.length - 1) break;
    const n = ARITY[key] ?? -1;
    if (n < 0 || i + n >= fields.length)
      throw new Error(`unexpected snapshot probe output at field ${i}: ${JSON.stringify(key.slice(0, 80))}`);
    const v = fields.slice(i + 1, i + 1 + n);
    i += 1 + n;
    if (key === "shared") shared = asKind(v[0]);
    else if (key === "dir") dir = asKind(v[0]);
    else if (key === "entry") entries.push({ kind: asKind(v[0]), name: v[1]! });
    else if (key === "meta") metas.set(v[0]!, v[1]!);
    else if (key === "parked") parked.add(v[0]!);
    else if (key === "restored") restored.set(v[0]!, [...(restored.get(v[0]!) ?? []), v[1]!]);
  }
  const problems: string[] = [];
  if (dir !== "dir" && dir !== "missing")
    problems.push(`.cutover/snapshots is a ${dir}, not a directory; left alone`);
  const snapshots: Snapshot[] = [];
  const leftovers: string[] = [];
  for (const { kind, name } of entries) {
    const restoring = /^restore-(.*)$/.exec(name);
    if (kind === "dir" && restoring && isIdShaped(restoring[1]!)) {
      if (parked.has(name))
        problems.push(
          `.cutover/snapshots/${name}/tree.old is a shared/ tree a restore moved aside and could not put back: move it back (mv -T) or away; cutover never removes it`,
        );
      else if (restored.has(name)) problems.push(partlyRestored(restoring[1]!, restored.get(name)!));
      else leftovers.push(name);
      continue;
    }
    const meta = kind === "dir" && isIdShaped(name) ? provenMeta(metas.get(name) ?? "", name) : undefined;
    if (!meta) {
      problems.push(
        `.cutover/snapshots/${shown(name).slice(1, -1)} is not a snapshot cutover made; left alone`,
      );
      continue;
    }
    snapshots.push({ id: name, meta });
  }
  snapshots.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { shared, snapshots, leftovers, problems, taken: entries.map((e) => e.name) };
}

/**
 * Metadata that names this id and its state in the exact text cutover writes: what the host-side
 * removal and restore check again. Merely parsing is not enough: a rewritten file (pretty-printed)
 * would pass here, then fail on the host and stop every prune and before_deploy snapshot.
 */
function provenMeta(raw: string, name: string): SnapshotMeta | undefined {
  const meta = parseSnapshotMeta(raw);
  const proven = raw.includes(`"id":"${name}"`) && raw.includes(`"state":"${meta?.state}"`);
  return meta?.id === name && proven ? meta : undefined;
}

/** Kept and reported, not pruned: it is the only record of which databases the cut-short restore changed. */
function partlyRestored(id: string, databases: readonly string[]): string {
  return `.cutover/snapshots/restore-${id}: a restore of snapshot ${id} was interrupted after putting SQLite databases back in place (${databases.map(shown).join(", ")}): shared/ may hold only these as in ${id}, the rest as before; run \`cutover snapshot restore ${id}\` to finish it (the snapshot taken just before it has them from before)`;
}
