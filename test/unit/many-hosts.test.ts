import assert from "node:assert/strict";
import { test } from "node:test";
import { planRollbackRun } from "../../src/plan/rollback-run.js";
import { batchSize, type HostState } from "../../src/plan/run.js";
import { hostFacts } from "../helpers/facts.js";
import { testStage } from "../helpers/stage.js";

test("rolling batch sizes: a count, or a percentage of the hosts rounded up, at least 1", () => {
  assert.equal(batchSize({ batch: 2, pauseSeconds: 0 }, 5), 2);
  assert.equal(batchSize({ batch: "25%", pauseSeconds: 0 }, 10), 3);
  assert.equal(batchSize({ batch: "1%", pauseSeconds: 0 }, 3), 1);
  assert.equal(batchSize({ batch: 9, pauseSeconds: 0 }, 3), 3);
});

const meta = (id: string, state: string) =>
  `meta ${JSON.stringify({ id, state, stage: "s", who: "w", revision: null, started_at: "t" })}`;
function host(name: string, lines: string[]): HostState {
  return { host: { name, path: "/d", roles: [] }, facts: hostFacts("/d", ["root ok", ...lines]) };
}
const chooseTarget = (hosts: HostState[], to: string | undefined) =>
  planRollbackRun({ stage: testStage(), hosts, to, force: false, now: "now" }).release;

test("rollback preflight: every host must agree on the target and have its files", () => {
  const a = [
    "current link releases/20261127T030000Z",
    "release 20261127T010000Z",
    "release 20261127T020000Z",
    "release 20261127T030000Z",
    meta("20261127T010000Z", "superseded"),
    meta("20261127T020000Z", "superseded"),
    meta("20261127T030000Z", "live"),
  ];
  const b = [
    "current link releases/20261127T030000Z",
    "release 20261127T010000Z",
    "release 20261127T020000Z",
    "release 20261127T030000Z",
    meta("20261127T010000Z", "superseded"),
    meta("20261127T020000Z", "failed"),
    meta("20261127T030000Z", "live"),
  ];
  assert.equal(chooseTarget([host("h1", a), host("h2", a)], undefined), "20261127T020000Z");
  assert.throws(
    () => chooseTarget([host("h1", a), host("h2", b)], undefined),
    /hosts disagree .*h1 → 20261127T020000Z, h2 → 20261127T010000Z/,
  );
  assert.throws(
    () => chooseTarget([host("h1", a), host("h2", b)], "20261127T020000Z"),
    /h2: release 20261127T020000Z is failed/,
  );
  const noFiles = [...a.filter((l) => l !== "release 20261127T020000Z")];
  // Metadata whose files are gone counts as no release at all.
  assert.throws(
    () => chooseTarget([host("h1", a), host("h2", noFiles)], "20261127T020000Z"),
    /h2: release 20261127T020000Z does not exist/,
  );
});
