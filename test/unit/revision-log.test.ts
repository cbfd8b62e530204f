import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHistory } from "../../src/plan/history.js";
import type { HistoryEntry } from "../../src/plan/records.js";
import type { ReleaseMeta } from "../../src/plan/release-meta.js";
import { revisionLog } from "../../src/plan/revision-log.js";

const entry = (e: Partial<HistoryEntry>): HistoryEntry => ({
  event: "deploy",
  outcome: "ok",
  stage: "prod",
  host: "web1",
  release: "20260101T000000Z",
  previous: null,
  revision: null,
  who: "ada@ci",
  at: "2026-01-01T00:00:01.000Z",
  duration_ms: 100,
  reason: null,
  ...e,
});
const commit = "c".repeat(40);
const metas = new Map<string, ReleaseMeta>([
  [
    "20260101T000000Z",
    {
      id: "20260101T000000Z",
      state: "superseded",
      stage: "prod",
      who: "ada@ci",
      started_at: "",
      revision: { commit, dirty: false, ref: "refs/heads/main", author: "Ada <a@x>", subject: "first" },
    },
  ],
]);

test("one run on several hosts is one row; newest first; other events are left out", () => {
  const rows = revisionLog(
    [
      entry({ host: "web1" }),
      entry({ host: "web2", at: "2026-01-01T00:00:02.000Z" }),
      entry({ event: "unlock", host: "web1", at: "2026-01-01T00:01:00.000Z", release: null }),
      entry({
        event: "rollback",
        host: "web2",
        release: "20260101T000000Z",
        previous: "20260102T000000Z",
        at: "2026-01-02T00:00:05.000Z",
      }),
      entry({
        host: "web1",
        release: "20260102T000000Z",
        at: "2026-01-02T00:00:00.000Z",
        revision: `${"d".repeat(40)}+dirty`,
        outcome: "rolled-back",
      }),
      entry({
        host: "web2",
        release: "20260102T000000Z",
        at: "2026-01-02T00:00:01.000Z",
        outcome: "failed",
        reason: "health",
      }),
    ],
    metas,
    10,
  );
  assert.deepEqual(
    rows.map((r) => [r.event, r.release, r.outcome, Object.keys(r.hosts).length]),
    [
      ["rollback", "20260101T000000Z", "ok", 1],
      ["deploy", "20260102T000000Z", "mixed", 2],
      ["deploy", "20260101T000000Z", "ok", 2],
    ],
  );
  assert.deepEqual(rows[1]!.hosts, { web1: "rolled-back", web2: "failed" });
  assert.equal(rows[1]!.reason, "health");
  assert.deepEqual(
    rows[1]!.revision,
    { commit: "d".repeat(40), dirty: true },
    "no metadata: the history's commit",
  );
  assert.equal(rows[2]!.revision?.subject, "first");
  assert.equal(rows[0]!.revision?.commit, commit, "a rollback shows the commit it went back to");
  assert.equal(
    revisionLog([entry({}), entry({ at: "2026-01-01T00:00:03.000Z" })], metas, 10).length,
    2,
    "the same host twice is two runs",
  );
  assert.equal(
    revisionLog([entry({}), entry({ host: "web2", release: "20260102T000000Z" })], metas, 1).length,
    1,
    "limit",
  );
});

test("a pruned release: the history line's commit details stand in for its metadata", () => {
  const [row] = revisionLog(
    [
      entry({
        release: "20250101T000000Z",
        revision: "e".repeat(40),
        revision_info: { ref: "refs/tags/v1", author: "Bo <b@x>", subject: "old" },
      }),
    ],
    metas,
    5,
  );
  assert.deepEqual(row!.revision, {
    commit: "e".repeat(40),
    dirty: false,
    ref: "refs/tags/v1",
    author: "Bo <b@x>",
    subject: "old",
  });
});

test("history lines from a host: hostile revision_info is checked, dropped or cleaned, never fatal", () => {
  const line = (info: unknown) => JSON.stringify({ ...entry({}), revision_info: info });
  const { entries, bad } = parseHistory(
    [line({ subject: "fine\u0007", author: 42, extra: "x" }), line("not an object"), line(undefined)].join(
      "\n",
    ),
  );
  assert.equal(bad, 0);
  assert.deepEqual(entries[0]!.revision_info, { subject: "fine?" });
  assert.equal("revision_info" in entries[1]!, false);
  assert.equal("revision_info" in entries[2]!, false);
});
