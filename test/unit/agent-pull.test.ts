import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { liveOf, rejectedBy, rememberedFailure } from "../../src/agent/deps.js";
import { nextDelay } from "../../src/agent/poller.js";
import { type PullDeps, pullOnce } from "../../src/agent/pull.js";
import { DeployQueue } from "../../src/agent/queue.js";
import { RateLimit } from "../../src/agent/rate-limit.js";
import { readState, withFailure, writeState } from "../../src/agent/state.js";
import { retryDelaySeconds, transientCause } from "../../src/agent/transient.js";
import type { ReleaseRow } from "../../src/engine/inspect.js";
import type { DeployResult } from "../../src/engine/outcome.js";
import { CutoverError, EXIT } from "../../src/errors.js";
import type { ReleaseState } from "../../src/plan/release-meta.js";

const A = "a".repeat(40);
const B = "b".repeat(40);

const result = (ok: boolean, exitCode: number): DeployResult =>
  ({
    ok,
    exitCode,
    release: "R",
    error: ok ? undefined : { message: "health check failed", detail: [] },
  }) as DeployResult;

function fakeDeps(over: Partial<PullDeps> = {}) {
  const calls = { deploy: [] as string[], remember: [] as [string, string | undefined][] };
  const deps: PullDeps = {
    resolve: async () => B,
    live: async () => ({ release: "R0", commit: A }),
    rejected: async () => undefined,
    deploy: async (commit) => {
      calls.deploy.push(commit);
      return result(true, 0);
    },
    remember: (commit, failure) => {
      calls.remember.push([commit, failure?.reason]);
      return undefined;
    },
    ...over,
  };
  return { deps, calls };
}

test("pull: the live commit is the ref's commit = nothing deployed", async () => {
  const { deps, calls } = fakeDeps({ resolve: async () => A });
  assert.deepEqual(await pullOnce(deps), { action: "up-to-date", commit: A, release: "R0" });
  assert.deepEqual(calls.deploy, []);
});

test("pull: a new commit deploys exactly that commit", async () => {
  const { deps, calls } = fakeDeps();
  assert.equal((await pullOnce(deps)).action, "deployed");
  assert.deepEqual(calls.deploy, [B]);
});

test("pull: a commit that failed before is skipped, unless retried; a failure is remembered", async () => {
  const { deps, calls } = fakeDeps({
    rejected: async () => ({ reason: "it failed" }),
    deploy: async () => result(false, 1),
  });
  assert.deepEqual(await pullOnce(deps), { action: "skipped", commit: B, reason: "it failed" });
  assert.equal((await pullOnce(deps, { retry: true })).action, "failed");
  assert.deepEqual(calls.remember, [[B, "health check failed"]]);
});

test("pull: a lock held by another run or an interrupt is not held against the commit", async () => {
  for (const exitCode of [EXIT.locked, EXIT.interrupted]) {
    const { deps, calls } = fakeDeps({
      deploy: async () => {
        throw new CutoverError("x", "busy", { exitCode });
      },
    });
    await assert.rejects(pullOnce(deps), /busy/);
    assert.deepEqual(calls.remember, []);
  }
  const { deps, calls } = fakeDeps({ deploy: async () => result(false, EXIT.interrupted) });
  assert.equal((await pullOnce(deps)).action, "failed");
  assert.deepEqual(calls.remember, []);
});

test("pull: a deploy that works forgets an earlier failure of its commit", async () => {
  const { deps, calls } = fakeDeps();
  await pullOnce(deps, { retry: true });
  assert.deepEqual(calls.remember, [[B, undefined]]);
});

const row = (id: string, state: ReleaseState, commit: string | null, live: boolean[]): ReleaseRow => ({
  id,
  hosts: Object.fromEntries(live.map((l, i) => [`h${i}`, { state, live: l, onDisk: true }])),
  meta: {
    id,
    state,
    stage: "s",
    who: "w",
    revision: commit ? { commit, dirty: false } : null,
    started_at: "",
  },
  disagree: false,
});

test("the live commit is the one every host serves; the newest release of a commit decides its fate", () => {
  const rows = [
    row("3", "failed", B, [false]),
    row("2", "live", A, [true]),
    row("1", "superseded", B, [false]),
  ];
  assert.deepEqual(liveOf(rows, 1), { release: "2", commit: A });
  assert.deepEqual(liveOf([row("2", "live", A, [true, false])], 2), { release: null, commit: null });
  assert.match(rejectedBy(rows, B)!, /release 3 of this commit is failed/);
  assert.equal(rejectedBy(rows, A), undefined);
  assert.equal(rejectedBy([row("4", "live", B, [true]), ...rows], B), undefined);
  assert.match(rejectedBy([row("5", "rolled-back", A, [false])], A)!, /rolled-back/);
  assert.equal(
    rejectedBy(rows, B, new Set(["3"])),
    undefined,
    "an interrupted run is not the commit's fault",
  );
  const failed = [{ commit: A, at: "2026-11-30T10:00:00.000Z", reason: "mirror fetch failed" }];
  const made = (at: string) => {
    const r = row("6", "superseded", A, [false]);
    return [{ ...r, meta: { ...r.meta, started_at: at } }];
  };
  assert.match(rememberedFailure([], failed, A)!, /mirror fetch failed/);
  assert.match(rememberedFailure(made("2026-11-30T09:00:00.000Z"), failed, A)!, /mirror fetch failed/);
  assert.equal(
    rememberedFailure(made("2026-11-30T11:00:00.000Z"), failed, A),
    undefined,
    "a later release of it",
  );
  assert.equal(rememberedFailure([], failed, B), undefined);
});

test("the state file: written whole, read back, and anything else is an empty state", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "agent state "));
  try {
    const file = path.join(dir, "agent", "state.json");
    assert.deepEqual(readState(file), { state: { failed: [], deliveries: [], bodies: [] } });
    const digest = "d".repeat(64);
    writeState(
      file,
      withFailure({ failed: [], deliveries: ["d1"], bodies: [digest] }, { commit: A, at: "t", reason: "r" }),
    );
    assert.deepEqual(readState(file).state, {
      failed: [{ commit: A, at: "t", reason: "r" }],
      deliveries: ["d1"],
      bodies: [digest],
    });
    writeFileSync(file, "{garbage");
    assert.match(readState(file).problem!, /not agent state/);
    writeFileSync(
      file,
      JSON.stringify({ failed: [{ commit: "; rm -rf /" }], deliveries: "x", bodies: ["not a digest"] }),
    );
    assert.deepEqual(readState(file).state, { failed: [], deliveries: [], bodies: [] });
    assert.ok(readFileSync(file, "utf8").length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the queue runs one job at a time and collapses triggers into one waiting job", async () => {
  const ran: string[] = [];
  let release: () => void = () => undefined;
  const queue = new DeployQueue(async (reason) => {
    ran.push(reason);
    if (reason === "first") await new Promise<void>((r) => (release = r));
  });
  assert.equal(queue.trigger("first"), "started");
  assert.equal(queue.trigger("second"), "queued");
  assert.equal(queue.trigger("third"), "queued");
  assert.equal(queue.queued, "third");
  release();
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(ran, ["first", "third"]);
  await queue.close();
  assert.equal(queue.trigger("late"), "closed");
});

test("backoff doubles per failure up to the maximum; the rate limit refills over time", () => {
  assert.deepEqual(
    [0, 1, 2, 3, 10, 100].map((f) => nextDelay(10_000, 60_000, f)),
    [10_000, 20_000, 40_000, 60_000, 60_000, 60_000],
  );
  let now = 0;
  const limit = new RateLimit(2, () => now);
  assert.deepEqual([limit.take(), limit.take(), limit.take()], [true, true, false]);
  assert.equal(limit.retryAfter(), 30);
  now = 30_000;
  assert.deepEqual([limit.take(), limit.take()], [true, false]);
});

test("pull: only the mirror fetch failing with git's own exit code is transient; its backoff doubles up to the maximum", () => {
  assert.match(transientCause("web1: fetch repository mirror failed (exit 128)") ?? "", /exit 128/);
  assert.match(
    transientCause("web1: fetch repository mirror failed (exit 124, timed out and killed)") ?? "",
    /124/,
  );
  // The mirror script's own refusals (symlink, unsafe mirror, commit missing) exit 3: they fail again.
  assert.equal(transientCause("web1: fetch repository mirror failed (exit 3)"), undefined);
  assert.equal(transientCause("web1: build: composer install failed (exit 1)"), undefined);
  assert.equal(transientCause("health check failed"), undefined);
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((n) => retryDelaySeconds(n, 60, 900)),
    [60, 120, 240, 480, 900, 900],
  );
  assert.equal(retryDelaySeconds(1, 0, 900), 60, "without polling: a minute");
  assert.equal(retryDelaySeconds(3, 0, 5), 5, "or the maximum, if less");
});

test("pull: a transient failure is remembered with its retry time, and not held against the commit", async () => {
  const { deps, calls } = fakeDeps({
    deploy: async () =>
      ({
        ok: false,
        exitCode: 1,
        release: "R",
        error: { message: "local: fetch repository mirror failed (exit 128)", detail: [] },
      }) as unknown as DeployResult,
    remember: (commit, failure) => {
      calls.remember.push([commit, failure?.transient]);
      return "2030-01-01T00:00:00.000Z";
    },
  });
  const outcome = await pullOnce(deps);
  assert.equal(outcome.action, "failed");
  assert.equal(outcome.action === "failed" && outcome.retryAt, "2030-01-01T00:00:00.000Z");
  assert.deepEqual(calls.remember, [[B, "the fetch from the repository failed (exit 128)"]]);
});
