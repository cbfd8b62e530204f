import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cutover } from "./cli.js";
import type { Fixture } from "./fixture.js";
import { assertOnlyOwnChanged, readState, rng, scramble } from "./hostile.js";
import { assertCurrentComplete, snapshot, trashEmptied } from "./tree.js";

const OPS = ["deploy", "rollback", "cleanup", "doctor"] as const;

/** The release `current` resolves to under root/releases, judged with the file system only. */
function liveOf(root: string): string | undefined {
  try {
    const real = realpathSync(path.join(root, "current"));
    const releases = realpathSync(path.join(root, "releases"));
    return path.dirname(real) === releases ? path.basename(real) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One fuzz round: a copy of a good deploy path, scrambled by `seed`, reached directly or through a
 * symlink, gets one random command; then nothing that is not provably cutover's may have changed,
 * shared/ and the outside directory are intact, and `current` resolves to a complete release (or
 * is exactly as before when the command failed). `host` turns a path into the config's host entry.
 */
export async function fuzzRound(
  fx: Fixture,
  baseline: string,
  seed: number,
  host: (deployPath: string) => Record<string, unknown>,
): Promise<void> {
  const r = rng(seed);
  const round = path.join(fx.dir, `round ${seed}`);
  rmSync(round, { recursive: true, force: true });
  mkdirSync(round);
  const real = path.join(round, "deploy ü");
  execFileSync("cp", ["-a", "--", baseline, real]);
  const outside = path.join(round, "outside");
  mkdirSync(outside);
  writeFileSync(path.join(outside, "precious.txt"), "not cutover's");
  const did = scramble(real, outside, seed);
  let configured = real;
  if (r.chance(0.3)) {
    configured = path.join(round, "link to deploy");
    symlinkSync(real, configured);
    did.push("deploy path behind a symlink");
  }
  const op = r.pick(OPS);
  const context = `seed ${seed} (${op}; ${did.join("; ") || "no junk"})`;
  const before = readState(real);
  const outsideBefore = snapshot(outside);
  const liveBefore = liveOf(real);
  fx.writeConfig({ keep_releases: 2 }, [host(configured)]);
  const result = await cutover([op, ...(op === "doctor" ? ["--web-config", outside] : [])], fx.app);
  assert.ok([0, 1, 2, 3, 4].includes(result.code), `${context}: exit ${result.code}\n${result.stderr}`);
  assert.doesNotMatch(result.stderr, /internal error|\n\s+at /, `${context}: crashed\n${result.stderr}`);
  await trashEmptied(real);
  const after = snapshot(real);
  assertOnlyOwnChanged(before, after, liveBefore, context);
  assert.deepEqual(snapshot(outside), outsideBefore, `${context}: outside changed`);
  const changedCurrent = after.get("current") !== before.snap.get("current");
  const switching = op === "deploy" || op === "rollback";
  if (switching && (result.code === 0 || result.code === 4)) {
    assertCurrentComplete(real, ["bootstrap/cache"]);
  } else {
    assert.ok(
      !changedCurrent,
      `${context}: current changed though ${op} exited ${result.code}\n${result.stderr}`,
    );
  }
  if (op === "doctor") assert.deepEqual(after, before.snap, `${context}: doctor changed the host`);
  assert.ok(!existsSync(path.join(real, ".cutover/lock")), `${context}: lock left behind`);
  rmSync(round, { recursive: true, force: true });
}
