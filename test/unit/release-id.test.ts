import assert from "node:assert/strict";
import { test } from "node:test";
import { compareReleaseIds, isReleaseId, nextReleaseId, timestampId } from "../../src/plan/release-id.js";

const at = (iso: string) => new Date(iso);

test("ids are UTC timestamps", () => {
  assert.equal(timestampId(at("2026-11-27T10:15:00.123Z")), "20261127T101500Z");
  assert.ok(isReleaseId("20261127T101500Z.2"));
  assert.ok(!isReleaseId("../etc"));
});

test("a second deploy in the same second gets a unique, later id", () => {
  const now = at("2026-11-27T10:15:00Z");
  const first = nextReleaseId(now, []);
  const second = nextReleaseId(now, [first]);
  const third = nextReleaseId(now, [first, second]);
  assert.deepEqual([first, second, third], ["20261127T101500Z", "20261127T101500Z.2", "20261127T101500Z.3"]);
  assert.ok(compareReleaseIds(first, second) < 0 && compareReleaseIds(second, third) < 0);
});

test("a clock that went back still yields an id after the newest", () => {
  const id = nextReleaseId(at("2026-11-27T09:00:00Z"), ["20261127T101500Z"]);
  assert.ok(compareReleaseIds(id, "20261127T101500Z") > 0);
});

test("ordering is numeric in the sequence, not textual", () => {
  const ids = ["20261127T101500Z.10", "20261127T101500Z.2", "20261127T101500Z", "20261126T235959Z"];
  assert.deepEqual([...ids].sort(compareReleaseIds), [
    "20261126T235959Z",
    "20261127T101500Z",
    "20261127T101500Z.2",
    "20261127T101500Z.10",
  ]);
});
