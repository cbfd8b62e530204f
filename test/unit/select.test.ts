import assert from "node:assert/strict";
import { test } from "node:test";
import type { ReleaseMeta, ReleaseState } from "../../src/plan/release-meta.js";
import { previousGood, rollbackTarget, selectPrune } from "../../src/plan/select.js";

const meta = (id: string, state: ReleaseState): ReleaseMeta => ({
  id,
  state,
  stage: "s",
  who: "w",
  revision: null,
  started_at: "t",
});
const metas = (...list: [string, ReleaseState][]) => new Map(list.map(([id, s]) => [id, meta(id, s)]));
const ids = (n: number) => Array.from({ length: n }, (_, i) => `20261127T10000${i}Z`);

test("rollback goes to the last good release before the live one, skipping failed and bad", () => {
  const [a, b, c, d, e] = ids(5) as [string, string, string, string, string];
  const m = metas([a, "superseded"], [b, "superseded"], [c, "failed"], [d, "bad"], [e, "live"]);
  assert.equal(rollbackTarget("h", m, e, undefined), b);
  assert.equal(previousGood(m, b), a);
});

test("rollback never picks a newer release (after a rollback, the rolled-back one is newer)", () => {
  const [a, b, c] = ids(3) as [string, string, string];
  const m = metas([a, "superseded"], [b, "live"], [c, "rolled-back"]);
  assert.equal(rollbackTarget("h", m, b, undefined), a);
});

test("a plain rollback skips a release that was rolled back from (as Deployer skips its BAD_RELEASE); --to still takes it", () => {
  // Deploy A, B; roll back to A (B rolled-back); deploy C; roll back: A, not B again.
  const [a, b, c] = ids(3) as [string, string, string];
  const m = metas([a, "superseded"], [b, "rolled-back"], [c, "live"]);
  assert.equal(rollbackTarget("h", m, c, undefined), a);
  assert.equal(rollbackTarget("h", m, c, b), b);
  // The rollback target is what pruning keeps: A stays, B may go.
  assert.deepEqual(selectPrune(m, [a, b, c], c, 1), [b]);
  const only = metas([b, "rolled-back"], [c, "live"]);
  assert.throws(
    () => rollbackTarget("h", only, c, undefined),
    (e: Error & { details?: { fix?: string } }) =>
      /no good release older than the live one/.test(e.message) &&
      /--to 20261127T100001Z/.test(e.details?.fix ?? ""),
  );
});

test("--to refuses failed, unknown, live and (without force) bad releases", () => {
  const [a, b, c, d] = ids(4) as [string, string, string, string];
  const m = metas([a, "failed"], [b, "bad"], [c, "superseded"], [d, "live"]);
  assert.throws(() => rollbackTarget("h", m, d, a), /is failed, not a complete release/);
  assert.throws(() => rollbackTarget("h", m, d, b), /marked bad/);
  assert.equal(rollbackTarget("h", m, d, b, true), b);
  assert.throws(() => rollbackTarget("h", m, d, "20200101T000000Z"), /does not exist/);
  assert.throws(() => rollbackTarget("h", m, d, d), /already live/);
  assert.equal(rollbackTarget("h", m, d, c), c);
});

test("no good release before the live one is a clear error", () => {
  const [a] = ids(1) as [string];
  assert.throws(
    () => rollbackTarget("web1", metas([a, "live"]), a, undefined),
    /web1: no good release older than the live one/,
  );
  assert.throws(() => rollbackTarget("web1", new Map(), undefined, undefined), /nothing is live/);
});

test("prune keeps N good releases, removes failed ones first, never the live one or the rollback target", () => {
  const all = ids(8);
  const m = metas(
    [all[0]!, "superseded"],
    [all[1]!, "superseded"],
    [all[2]!, "failed"],
    [all[3]!, "superseded"],
    [all[4]!, "superseded"],
    [all[5]!, "live"],
    [all[6]!, "failed"],
    [all[7]!, "rolled-back"],
  );
  const prune = selectPrune(m, all, all[5], 3);
  assert.deepEqual(prune, [all[2], all[6], all[0], all[1], all[3]]);
  assert.ok(!prune.includes(all[5]!) && !prune.includes(all[4]!));
});

test("prune with keep 1 still keeps the rollback target", () => {
  const [a, b, c] = ids(3) as [string, string, string];
  assert.deepEqual(selectPrune(metas([a, "superseded"], [b, "superseded"], [c, "live"]), [a, b, c], c, 1), [
    a,
  ]);
});
