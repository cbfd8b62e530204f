import assert from "node:assert/strict";
import { test } from "node:test";
import { compareReleaseIds, isReleaseId, nextReleaseId, timestampId } from "../../src/plan/release-id.js";

const at = (iso: string) => new Date(iso);

test("ids are UTC timestamps, all of one length", () => {
  assert.equal(timestampId(at("2026-11-27T10:15:00.123Z")), "20261127T101500Z");
  assert.ok(isReleaseId("20261127T101500Z"));
  assert.ok(!isReleaseId("20261127T101500Z.2"));
  assert.ok(!isReleaseId("../etc"));
  assert.ok(!isReleaseId("20261399T999999Z"), "not a real time");
});

test("deploys in the same second get unique, later ids of the same length", () => {
  const now = at("2026-11-27T10:15:59Z");
  const first = nextReleaseId(now, []);
  const second = nextReleaseId(now, [first]);
  const third = nextReleaseId(now, [first, second]);
  assert.deepEqual([first, second, third], ["20261127T101559Z", "20261127T101600Z", "20261127T101601Z"]);
  assert.ok(compareReleaseIds(first, second) < 0 && compareReleaseIds(second, third) < 0);
  // Real time catches up: the next deploy after the burst is stamped with its own time again.
  assert.equal(nextReleaseId(at("2026-11-27T10:16:05Z"), [first, second, third]), "20261127T101605Z");
  // Across a day and a year boundary.
  assert.equal(nextReleaseId(at("2026-12-31T23:59:59Z"), ["20261231T235959Z"]), "20270101T000000Z");
});

test("a clock that went back still yields an id after the newest", () => {
  const id = nextReleaseId(at("2026-11-27T09:00:00Z"), [
    "20261127T101500Z",
    "not-an-id",
    "00000000T000000Z",
    "20991399T999999Z",
  ]);
  assert.equal(id, "20261127T101501Z");
  assert.ok(compareReleaseIds(id, "20261127T101500Z") > 0);
});

test("ordering is by time", () => {
  const ids = ["20261127T101500Z", "20261126T235959Z", "20261127T101501Z", "20251231T235959Z"];
  assert.deepEqual([...ids].sort(compareReleaseIds), [
    "20251231T235959Z",
    "20261126T235959Z",
    "20261127T101500Z",
    "20261127T101501Z",
  ]);
});
