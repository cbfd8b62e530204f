import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import type { ExecutorFactory } from "../../src/engine/targets.js";
import { deploy, loadStage } from "../../src/index.js";
import { renderScript } from "../../src/shell/cmd.js";
import type { RunResult } from "../../src/transport/executor.js";
import { wrapCommand } from "../helpers/bin.js";
import { callsIn, runCounted, stepEnded } from "../helpers/counting.js";
import { wrapExecutors } from "../helpers/executors.js";
import { fixture } from "../helpers/fixture.js";
import { ownCaches } from "../helpers/scratch.js";

/**
 * A host's lock goes back in its last round trip of the run (engine/run.ts): with its records, and
 * the removal of old releases after them in that same round trip; never while something after may
 * still need the host (an after_switch hook may switch every host back); and when that round trip
 * fails, the run still gives the lock back on its own. Counted on a real local target through a
 * wrapping executor.
 */
ownCaches();
const fx = fixture();
after(() => fx.cleanup());
const lock = path.join(fx.deployPath, ".cutover", "lock");
const history = path.join(fx.deployPath, ".cutover", "history.jsonl");

/** Deploys (or rolls back); returns the round trips after the switch and the run's warnings. */
async function run(action: "deploy" | "rollback" = "deploy"): Promise<{ after: number; warnings: string[] }> {
  const { log, warnings: ended } = await runCounted(fx.app, action);
  const switched = stepEnded(log, "local", "switch current");
  assert.ok(switched > 0);
  const warnings = log.flatMap((e) =>
    e.kind === "event" && e.event.type === "warning" ? [e.event.message] : [],
  );
  return { after: callsIn(log, "local", switched), warnings: [...warnings, ...ended] };
}

test("nothing to remove: the records and the lock's release are one round trip", async () => {
  fx.writeConfig({ keep_releases: 5 });
  await run();
  fx.file("index.php", "<?php echo 'two';\n");
  const r = await run();
  assert.equal(r.after, 1);
  assert.equal(existsSync(lock), false);
  assert.deepEqual(r.warnings, []);
});

test("a rollback gives the lock back with its records too", async () => {
  const r = await run("rollback");
  assert.equal(r.after, 1);
  assert.equal(existsSync(lock), false);
});

test("old releases to remove: removed under the lock in the records' round trip, where the lock goes back", async () => {
  fx.writeConfig({ keep_releases: 1 });
  fx.file("index.php", "<?php echo 'three';\n");
  // An rm first in PATH notes whether the lock is held when a release is removed.
  const seen = path.join(fx.dir, "lock seen by rm");
  const bin = wrapCommand(
    path.join(fx.dir, "bin-rm"),
    "rm",
    `case "$*" in *"/releases/"*) [ -d '${lock}' ] && echo held >> '${seen}' || echo free >> '${seen}' ;; esac`,
  );
  const PATH = process.env.PATH;
  process.env.PATH = `${bin}:${PATH}`;
  try {
    const r = await run();
    assert.equal(r.after, 1);
    assert.deepEqual(r.warnings, []);
  } finally {
    process.env.PATH = PATH;
  }
  assert.match(readFileSync(seen, "utf8"), /^(held\n)+$/);
  assert.equal(existsSync(lock), false);
  assert.equal(
    readdirSync(path.join(fx.deployPath, "releases")).length,
    2,
    "the live release and the one before",
  );
});

test("an after_switch hook: it runs under the lock, which goes back after it", async () => {
  const seen = path.join(fx.dir, "lock seen by the hook");
  fx.writeConfig({
    keep_releases: 5,
    hooks: {
      after_switch: [
        `if [ -d "$CUTOVER_DEPLOY_PATH/.cutover/lock" ]; then echo held; else echo free; fi > '${seen}'`,
      ],
    },
  });
  fx.file("index.php", "<?php echo 'four';\n");
  await run();
  assert.equal(readFileSync(seen, "utf8"), "held\n");
  assert.equal(existsSync(lock), false);
});

test("the records fail (history not writable): a warning, and the lock still goes back", async () => {
  fx.writeConfig({ keep_releases: 5 });
  rmSync(history);
  mkdirSync(history);
  try {
    fx.file("index.php", "<?php echo 'five';\n");
    const r = await run();
    assert.ok(
      r.warnings.some((w) => w.startsWith("could not record the deploy")),
      r.warnings.join("\n"),
    );
    assert.equal(existsSync(lock), false);
  } finally {
    rmSync(history, { recursive: true });
  }
});

/**
 * A PATH directory where a whole release directory can be neither moved into the trash nor removed
 * (not a path inside one, not its metadata): the removal fails.
 */
function failingRemoval(dir: string): string {
  wrapCommand(
    dir,
    "mv",
    `if [ "$1 $2" = "-T --" ]; then case "$3" in */releases/*/*) ;; */releases/*)
  echo "mv: cannot move '$3': Operation not permitted" >&2; exit 1 ;; esac; fi`,
  );
  return wrapCommand(
    dir,
    "rm",
    `if [ "$1 $2 $3" = "-rf --one-file-system --" ]; then case "$4" in */.cutover/*|*/releases/*/*) ;; */releases/*)
  echo "rm: cannot remove '$4': Operation not permitted" >&2; exit 1 ;; esac; fi`,
  );
}

test("the removal fails after the records: a cleanup warning, the records kept, the lock given back", async () => {
  fx.writeConfig({ keep_releases: 1 });
  fx.file("index.php", "<?php echo 'six';\n");
  const bin = failingRemoval(path.join(fx.dir, "bin-rm-fails"));
  const before = readdirSync(path.join(fx.deployPath, "releases"));
  const PATH = process.env.PATH;
  process.env.PATH = `${bin}:${PATH}`;
  let r: Awaited<ReturnType<typeof run>>;
  try {
    r = await run();
  } finally {
    process.env.PATH = PATH;
  }
  assert.equal(r.after, 2, "records and removal, then the lock on its own");
  assert.ok(!r.warnings.some((w) => w.startsWith("could not record")), r.warnings.join("\n"));
  assert.ok(
    r.warnings.some((w) => /^local: cleanup failed: rm: cannot remove .*Operation not permitted/.test(w)),
    r.warnings.join("\n"),
  );
  const last = JSON.parse(readFileSync(history, "utf8").trim().split("\n").at(-1)!);
  assert.equal(last.outcome, "ok");
  assert.equal(existsSync(lock), false);
  for (const id of before) assert.ok(existsSync(path.join(fx.deployPath, "releases", id)), `${id} kept`);
});

test("the records fail with old releases to remove: a warning, and the removal in a round trip of its own", async () => {
  fx.writeConfig({ keep_releases: 1 });
  rmSync(history, { force: true });
  mkdirSync(history);
  try {
    fx.file("index.php", "<?php echo 'seven';\n");
    const r = await run();
    assert.ok(
      r.warnings.some((w) => w.startsWith("could not record the deploy")),
      r.warnings.join("\n"),
    );
    assert.equal(r.after, 2);
    assert.equal(existsSync(lock), false);
  } finally {
    rmSync(history, { recursive: true });
  }
  assert.equal(readdirSync(path.join(fx.deployPath, "releases")).length, 2, "old releases removed");
});

test("two hosts, an after_switch hook on one only (rollback_on): the other's lock is held while it runs", async () => {
  const paths = ["a", "b"].map((n) => path.join(fx.dir, `pair ${n}`));
  const seen = path.join(fx.dir, "web1 lock seen by the web2 hook");
  const web1Lock = path.join(paths[0]!, ".cutover", "lock");
  const hosts = [
    { name: "web1", path: paths[0], roles: ["web"] },
    { name: "web2", path: paths[1], roles: ["web", "jobs"] },
  ];
  fx.writeConfig({ keep_releases: 5 }, hosts);
  const go = () =>
    deploy({ stage: loadStage({ cwd: fx.app }), emit: () => undefined, command: "cutover deploy (test)" });
  assert.equal((await go()).ok, true);
  fx.writeConfig(
    {
      keep_releases: 5,
      rollback_on: ["after_switch"],
      hooks: {
        after_switch: [
          {
            run: `sleep 1; if [ -d '${web1Lock}' ]; then echo held; else echo free; fi > '${seen}'; exit 9`,
            roles: ["jobs"],
          },
        ],
      },
    },
    hosts,
  );
  fx.file("index.php", "<?php echo 'pair';\n");
  assert.equal((await go()).ok, false);
  // web2's failing hook switches web1 back too: web1 must still have been locked.
  assert.equal(readFileSync(seen, "utf8"), "held\n");
  for (const p of paths) assert.equal(existsSync(path.join(p, ".cutover", "lock")), false);
});

test("two hosts, old releases to remove, a failing after_switch hook on one only (rollback_on): web1 keeps its lock and its releases until it ran", async () => {
  const paths = ["a", "b"].map((n) => path.join(fx.dir, `trio ${n}`));
  const seen = path.join(fx.dir, "trio web1 seen by the web2 hook");
  const web1Lock = path.join(paths[0]!, ".cutover", "lock");
  const hosts = [
    { name: "web1", path: paths[0], roles: ["web"] },
    { name: "web2", path: paths[1], roles: ["web", "jobs"] },
  ];
  fx.writeConfig({ keep_releases: 1 }, hosts);
  const go = () =>
    deploy({ stage: loadStage({ cwd: fx.app }), emit: () => undefined, command: "cutover deploy (test)" });
  for (const v of ["t1", "t2", "t3"]) {
    fx.file("index.php", `<?php echo '${v}';\n`);
    assert.equal((await go()).ok, true);
  }
  const releases = paths.map((p) => readdirSync(path.join(p, "releases")).sort());
  const live = paths.map((p) => realpathSync(path.join(p, "current")));
  const web1Releases = path.join(paths[0]!, "releases");
  fx.writeConfig(
    {
      keep_releases: 1,
      rollback_on: ["after_switch"],
      hooks: {
        after_switch: [
          {
            run: `sleep 1; { [ -d '${web1Lock}' ] && echo held || echo free; ls '${web1Releases}' | wc -l; } > '${seen}'; exit 9`,
            roles: ["jobs"],
          },
        ],
      },
    },
    hosts,
  );
  fx.file("index.php", "<?php echo 't4';\n");
  assert.equal((await go()).ok, false);
  // While web2's hook ran, web1 was locked and had removed nothing: its two releases and the new one.
  assert.deepEqual(readFileSync(seen, "utf8").split(/\s+/).filter(Boolean), ["held", "3"]);
  paths.forEach((p, i) => {
    // Switched back to the release that was live: still there, nothing of it removed.
    assert.equal(realpathSync(path.join(p, "current")), live[i]);
    assert.ok(existsSync(path.join(live[i]!, "index.php")), `${p}: the release switched back to exists`);
    assert.deepEqual(
      readdirSync(path.join(p, "releases"))
        .filter((id) => releases[i]!.includes(id))
        .sort(),
      releases[i],
    );
    assert.equal(existsSync(path.join(p, ".cutover", "lock")), false);
  });
});

/**
 * Real executors; `records` sees the records' round trip (its script names the history) before it
 * runs and may change what it answered.
 */
function aroundRecords(records: (answer: RunResult) => RunResult, before = () => {}): ExecutorFactory {
  return wrapExecutors({
    run: async (real, _host, cmds, o) => {
      const isRecords = renderScript(cmds).includes("history.jsonl");
      if (isRecords) before();
      const r = await real.run(cmds, o);
      return isRecords ? records(r) : r;
    },
  });
}

/** Deploys through `executors`; the run's round trips (scripts) and whether the lock was there before each. */
async function deployThrough(executors: ExecutorFactory, signal?: AbortSignal) {
  const scripts: { text: string; locked: boolean }[] = [];
  const result = await deploy({
    stage: loadStage({ cwd: fx.app }),
    emit: () => undefined,
    command: "cutover deploy (test)",
    signal,
    executors: (host, stage, controlPath) => {
      const inner = executors(host, stage, controlPath);
      return {
        ...inner,
        host: inner.host,
        run: (cmds, o) => {
          scripts.push({ text: renderScript(cmds), locked: existsSync(lock) });
          return inner.run(cmds, o);
        },
        transfer: (t, o) => inner.transfer(t, o),
        connect: () => inner.connect(),
        interrupt: () => inner.interrupt(),
        close: () => inner.close(),
      };
    },
  });
  return { result, scripts };
}

test("something printed before the records' marker (a hook's background job): the removal is not done again without the lock", async () => {
  fx.writeConfig({ keep_releases: 1 });
  fx.file("index.php", "<?php echo 'stray';\n");
  const { result, scripts } = await deployThrough(
    aroundRecords((r) => ({ ...r, stdout: Buffer.concat([Buffer.from("workers restarted\n"), r.stdout]) })),
  );
  assert.equal(result.ok, true);
  assert.deepEqual(result.warnings, []);
  const removals = scripts.filter((s) => s.text.includes("refusing to remove"));
  assert.equal(removals.length, 1, "removed once, in the records' round trip");
  assert.ok(removals[0]!.locked);
  assert.equal(existsSync(lock), false);
  assert.equal(readdirSync(path.join(fx.deployPath, "releases")).length, 2);
});

test("a signal while the records and the removal run: the removal is done, and the run says so", async () => {
  fx.writeConfig({ keep_releases: 1 });
  fx.file("index.php", "<?php echo 'signal';\n");
  const ac = new AbortController();
  const { result } = await deployThrough(
    aroundRecords(
      (r) => r,
      () => ac.abort(),
    ),
    ac.signal,
  );
  assert.equal(result.ok, true);
  assert.equal(result.exitCode, 4, "an interrupted run is degraded, as before");
  assert.equal(readdirSync(path.join(fx.deployPath, "releases")).length, 2, "old releases removed");
  assert.deepEqual(result.warnings, [
    "interrupted after the switch: after_switch hooks were skipped (the removal of old releases had already run with the records)",
  ]);
  assert.equal(existsSync(lock), false);
});

test("the removal fails with the records, then a signal: the cleanup's warning is kept", async () => {
  fx.writeConfig({ keep_releases: 1 });
  fx.file("index.php", "<?php echo 'signal two';\n");
  const ac = new AbortController();
  const bin = failingRemoval(path.join(fx.dir, "bin-rm-fails-2"));
  const PATH = process.env.PATH;
  process.env.PATH = `${bin}:${PATH}`;
  let result: Awaited<ReturnType<typeof deployThrough>>["result"];
  try {
    ({ result } = await deployThrough(
      aroundRecords((r) => {
        ac.abort();
        return r;
      }),
      ac.signal,
    ));
  } finally {
    process.env.PATH = PATH;
  }
  assert.equal(result.exitCode, 4);
  assert.ok(
    result.warnings?.some((w) =>
      /^local: cleanup failed: rm: cannot remove .*Operation not permitted/.test(w),
    ),
    result.warnings?.join("\n"),
  );
  assert.ok(result.warnings?.some((w) => w.startsWith("interrupted after the switch")));
  assert.equal(existsSync(lock), false);
});
