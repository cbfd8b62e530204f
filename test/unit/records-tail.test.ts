import assert from "node:assert/strict";
import { test } from "node:test";
import type { Unit } from "../../src/engine/finalize.js";
import type { LockedTarget, TrailingUnlock } from "../../src/engine/lock.js";
import { recordsTail } from "../../src/engine/run-tail.js";
import type { Phase, RunPlan } from "../../src/plan/run.js";
import { cmd } from "../../src/shell/cmd.js";

/** recordsTail (engine/finalize.ts): what ends a host's records' round trip. */
const phases: Phase[] = [
  { kind: "clean" },
  { kind: "prepare" },
  { kind: "switch", batches: [["a", "b"]], pauseSeconds: 0 },
  { kind: "php-reset" },
  { kind: "record" },
  { kind: "after", hook: "after_switch", switchBackOnFailure: true },
  { kind: "prune" },
];
const record = phases[4]!;
const unit = (name: string, prune: string[], after: number): Unit =>
  ({
    run: { prune, after: Array.from({ length: after }, () => cmd(["true"])) },
    t: { host: { name } } as unknown as LockedTarget,
  }) as unknown as Unit;
const plan = (units: Unit[]) => ({ phases, hosts: units.map((u) => u.run) }) as unknown as RunPlan;
const unlock = (t: LockedTarget): TrailingUnlock => ({
  cmd: cmd(["unlock", t.host.name]),
  ran: () => undefined,
});

test("no after hook anywhere, releases to remove: the removal, then the lock", () => {
  const units = [unit("a", ["r1"], 0), unit("b", [], 0)];
  const tail = recordsTail(plan(units), units, units[0]!, record, unlock, false);
  assert.deepEqual(tail.prune, ["r1"]);
  assert.deepEqual(tail.unlock?.cmd.argv, ["unlock", "a"]);
  const other = recordsTail(plan(units), units, units[1]!, record, unlock, false);
  assert.equal(other.prune, undefined);
  assert.deepEqual(other.unlock?.cmd.argv, ["unlock", "b"]);
});

test("an after hook on another host: neither the removal nor the lock go with the records", () => {
  const units = [unit("a", ["r1"], 0), unit("b", [], 1)];
  for (const u of units) {
    const tail = recordsTail(plan(units), units, u, record, unlock, false);
    assert.equal(tail.prune, undefined);
    assert.equal(tail.unlock, undefined);
  }
});

test("interrupted before the records: no removal with them (a signal skips the cleanup), the lock stays for it", () => {
  const units = [unit("a", ["r1"], 0)];
  const tail = recordsTail(plan(units), units, units[0]!, record, unlock, true);
  assert.equal(tail.prune, undefined);
  assert.equal(tail.unlock, undefined);
});
