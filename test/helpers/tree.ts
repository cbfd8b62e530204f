import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import path from "node:path";

/** Every entry under `root` with its type, mode, and content hash or link target (no times). */
export function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const rel = path.relative(root, full);
      const st = lstatSync(full);
      if (st.isSymbolicLink()) out.set(rel, `link ${readlinkSync(full)}`);
      else if (st.isDirectory()) {
        out.set(rel, `dir ${st.mode.toString(8)}`);
        walk(full);
      } else
        out.set(
          rel,
          `file ${st.mode.toString(8)} ${createHash("sha256").update(readFileSync(full)).digest("hex")}`,
        );
    }
  };
  walk(root);
  return out;
}

/**
 * Waits (up to 5 s) for the removal of pruned releases, which outlives the run that pruned them, to
 * empty .cutover/trash: a snapshot or copy taken while it runs races its unlinks (ENOENT).
 */
export async function trashEmptied(deployPath: string): Promise<void> {
  const trash = path.join(deployPath, ".cutover/trash");
  for (let i = 0; i < 100 && existsSync(trash) && readdirSync(trash).length > 0; i++)
    await new Promise((r) => setTimeout(r, 50));
}

/**
 * Checks, independently of cutover's own code, that `current` resolves to a release whose files
 * match the manifest cutover recorded for it, and whose metadata says it is complete.
 */
export function assertCurrentComplete(
  deployPath: string,
  writable: readonly string[] = [],
  /** After a run whose records failed (exit 4), the state can still be the one before. */
  states: readonly string[] = ["ready", "live"],
): string {
  const release = path.basename(realpathSync(path.join(deployPath, "current")));
  const meta = JSON.parse(
    readFileSync(path.join(deployPath, ".cutover/releases", `${release}.json`), "utf8"),
  ) as { state: string; checksum: string };
  if (!states.includes(meta.state)) throw new Error(`current → ${release} whose state is ${meta.state}`);
  const manifest = readFileSync(path.join(deployPath, ".cutover/releases", `${release}.manifest`), "utf8");
  const checksum = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;
  if (checksum !== meta.checksum)
    throw new Error(`manifest of ${release} does not match its recorded checksum`);
  const releaseDir = path.join(deployPath, "releases", release);
  const expected = new Map<string, string>();
  for (const line of manifest.trim().split("\n")) {
    const m = /^("(?:[^"\\]|\\.)*") (.*)$/.exec(line);
    if (!m) throw new Error(`bad manifest line: ${line}`);
    const name = JSON.parse(m[1]!) as string;
    const [type, ...rest] = m[2]!.split(" ");
    if (writable.some((w) => name.startsWith(`${w}/`))) continue;
    expected.set(name, type === "f" ? rest[1]! : type === "l" ? JSON.parse(rest.join(" ")) : "dir");
  }
  const actual = snapshot(releaseDir);
  for (const [name, want] of expected) {
    const got = actual.get(name);
    if (!got) throw new Error(`${release}: ${name} is missing`);
    if (got.startsWith("file") && !got.endsWith(want)) throw new Error(`${release}: ${name} content differs`);
    if (got.startsWith("link") && got !== `link ${want}`) throw new Error(`${release}: link ${name} differs`);
  }
  for (const name of actual.keys()) {
    if (!expected.has(name) && !writable.some((w) => name === w || name.startsWith(`${w}/`)))
      throw new Error(`${release}: unexpected ${name}`);
  }
  return release;
}
