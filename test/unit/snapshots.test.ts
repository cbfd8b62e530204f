import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { CutoverError } from "../../src/errors.js";
import { layout } from "../../src/plan/layout.js";
import { planRollbackRun } from "../../src/plan/rollback-run.js";
import { removeSnapshots } from "../../src/plan/snapshot-cmds.js";
import { parseSnapshotFacts, type SnapshotFacts } from "../../src/plan/snapshot-facts.js";
import { type SnapshotState, snapshotCmd } from "../../src/plan/snapshot-plan.js";
import { restoreSnapshot } from "../../src/plan/snapshot-restore.js";
import { nextSnapshotId, selectSnapshotPrune, snapshotBefore } from "../../src/plan/snapshot-select.js";
import { type Cmd, renderCmd } from "../../src/shell/cmd.js";
import { hostFacts } from "../helpers/facts.js";
import { testStage } from "../helpers/stage.js";

const meta = (id: string, state = "complete", extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    id,
    state,
    reason: "manual",
    stage: "prod",
    who: "me",
    created_at: "t",
    live: null,
    release: null,
    ...extra,
  });

/** The probe's NUL-separated output: ["entry", kind, name] and ["meta", name, text] records. */
function facts(records: readonly (readonly string[])[], shared = "dir"): SnapshotFacts {
  const fields = ["cutover-snapshots", "1", "shared", shared, "dir", "dir", ...records.flat()];
  return parseSnapshotFacts(`${fields.join("\0")}\0`);
}
const snap = (id: string, state = "complete", extra: Record<string, unknown> = {}) => [
  ["entry", "dir", id],
  ["meta", id, meta(id, state, extra)],
];

test("snapshot facts: only id-named real directories whose metadata names them are cutover's", () => {
  const f = facts([
    ...snap("20260101T000000Z"),
    ["entry", "dir", "evil\nmeta 20260101T000009Z"],
    ["entry", "dir", "20260101T000001Z"], // no metadata
    ["entry", "dir", "20260101T000002Z"],
    ["meta", "20260101T000002Z", meta("20260101T000003Z")], // names another id
    ["entry", "dir", "20260101T000004Z"],
    ["meta", "20260101T000004Z", '{"id":"20260101T000004Z","state":"comp'],
    ["entry", "link", "20260101T000005Z"],
    ["meta", "20260101T000005Z", meta("20260101T000005Z")],
    ["entry", "dir", "restore-20260101T000000Z"],
    ["entry", "link", "restore-20260101T000001Z"],
    ["entry", "dir", "restore-20260101T000002Z"],
    ["parked", "restore-20260101T000002Z"], // holds tree.old: a shared/ a restore could not put back
    ...snap("20260101T000006Z", "partial"),
  ]);
  assert.deepEqual(
    f.snapshots.map((s) => [s.id, s.meta.state]),
    [
      ["20260101T000000Z", "complete"],
      ["20260101T000006Z", "partial"],
    ],
  );
  assert.deepEqual(f.leftovers, ["restore-20260101T000000Z"], "never one holding a parked shared/");
  assert.equal(f.problems.length, 7);
  assert.ok(f.problems.some((p) => /restore-20260101T000002Z\/tree\.old is a shared\/ tree/.test(p)));
  assert.match(f.problems[0]!, /evil\\nmeta/, "a newline in a name is shown escaped, and forges no record");
  assert.ok(f.taken.includes("20260101T000005Z"));
  assert.throws(() => parseSnapshotFacts("garbage"), /unexpected snapshot probe output/);
  assert.throws(
    () => parseSnapshotFacts(["cutover-snapshots", "1", "entry", "dir"].join("\0")),
    /unexpected/,
  );
});

test("prune: partial snapshots, interrupted restores and complete ones beyond keep; a new id is newer than every name", () => {
  const f = facts([
    ...snap("20260101T000001Z"),
    ...snap("20260101T000002Z"),
    ...snap("20260101T000003Z", "partial"),
    ...snap("20260101T000004Z"),
    ["entry", "dir", "restore-20260101T000002Z"],
    ["entry", "dir", "20290101T000000Z"],
  ]);
  assert.deepEqual(selectSnapshotPrune(f, 2), [
    "20260101T000003Z",
    "20260101T000001Z",
    "restore-20260101T000002Z",
  ]);
  assert.deepEqual(selectSnapshotPrune(f, 1), [
    "20260101T000003Z",
    "20260101T000001Z",
    "20260101T000002Z",
    "restore-20260101T000002Z",
  ]);
  assert.equal(nextSnapshotId(new Date("2026-06-01T00:00:00Z"), [f]), "20290101T000001Z");
});

test("the snapshot before a release: the newest complete before-deploy one naming it", () => {
  const f = facts([
    ...snap("20260101T000001Z", "complete", { reason: "before-deploy", release: "20260101T000001Z" }),
    ...snap("20260101T000002Z", "complete", { reason: "before-deploy", release: "20260101T000002Z" }),
    ...snap("20260101T000003Z", "partial", { reason: "before-deploy", release: "20260101T000002Z" }),
    ...snap("20260101T000004Z", "complete", { reason: "manual", release: "20260101T000002Z" }),
  ]);
  assert.equal(snapshotBefore(f, "20260101T000002Z")?.id, "20260101T000002Z");
  assert.equal(snapshotBefore(f, "20260101T000009Z"), undefined);
});

test("rollback --restore-shared: restores after the switch back, or refuses before switching when a host has no snapshot", () => {
  const lines = [
    "current link releases/20261127T020000Z",
    "release 20261127T010000Z",
    "release 20261127T020000Z",
    `meta ${JSON.stringify({ id: "20261127T010000Z", state: "superseded", stage: "prod", who: "x", revision: null, started_at: "" })}`,
    `meta ${JSON.stringify({ id: "20261127T020000Z", state: "live", stage: "prod", who: "x", revision: null, started_at: "" })}`,
  ];
  const stage = testStage({ hosts: [{ name: "web1", path: "/d", roles: [] }] });
  const hosts = [{ host: stage.hosts[0]!, facts: hostFacts("/d", lines) }];
  const state = (f: SnapshotFacts): SnapshotState & { who: string } => ({
    id: "20261128T000000Z",
    facts: new Map([["web1", f]]),
    who: "me",
  });
  const withSnapshot = facts(
    snap("20261127T015959Z", "complete", { reason: "before-deploy", release: "20261127T020000Z" }),
  );
  const plan = planRollbackRun({
    stage,
    hosts,
    to: undefined,
    force: false,
    now: "n",
    restoreShared: state(withSnapshot),
  });
  const kinds = plan.phases.map((p) => p.kind);
  assert.ok(kinds.indexOf("restore-shared") > kinds.indexOf("switch"));
  assert.equal(
    plan.hosts[0]!.restoreShared.length,
    3,
    "a snapshot of the live shared/, the restore, its history entry",
  );
  assert.ok(plan.hosts[0]!.restoreShared[1]!.argv.includes("20261127T015959Z"));
  assert.throws(
    () =>
      planRollbackRun({
        stage,
        hosts,
        to: undefined,
        force: false,
        now: "n",
        restoreShared: state(facts([])),
      }),
    (e: Error) =>
      e instanceof CutoverError && /web1: no complete snapshot taken before 20261127T020000Z/.test(e.message),
  );
});

test("the snapshot programs reach the shell with exactly their argv, whatever the deploy path holds", () => {
  const root = '/srv/it\'s a "deploy" $PATH `x` ü\nnewline';
  const l = layout(root);
  const words = (c: Cmd) =>
    execFileSync("sh", ["-c", renderCmd({ argv: ["printf", "%s\\0", ...c.argv] })])
      .toString("utf8")
      .split("\0")
      .slice(0, -1);
  const f = facts(snap("20260101T000000Z"));
  const cmds = [
    snapshotCmd({
      layout: l,
      facts: f,
      id: "20260101T000001Z",
      reason: "manual",
      stage: "p",
      who: "w",
      now: "n",
      live: undefined,
      sharedPaths: ["up loads", "-x 'y'"],
    }),
    restoreSnapshot(l, "20260101T000000Z", "20260101T000001Z"),
    removeSnapshots(l, ["20260101T000000Z", "restore-20260101T000000Z"]),
  ];
  for (const c of cmds) {
    assert.deepEqual(words(c), [...c.argv]);
    assert.equal(c.argv[4], root, "the deploy path is the first positional parameter");
  }
  assert.equal(cmds[0]!.argv[6], "20260101T000000Z", "linked to the newest complete snapshot");
});
