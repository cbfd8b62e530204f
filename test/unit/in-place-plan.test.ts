import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { planInPlaceDeployRun, planInPlaceRollbackRun } from "../../src/plan/in-place.js";
import { type Cmd, renderCmd } from "../../src/shell/cmd.js";
import { hostFacts } from "../helpers/facts.js";
import { testStage } from "../helpers/stage.js";

const ROOT = '/srv/it\'s "in place" $PATH `x` ü\nnewline';
const stage = testStage({
  strategy: "in-place",
  hosts: [{ name: "web1", path: ROOT, roles: [] }],
  sharedDirs: ["storage/up loads"],
  sharedFiles: [".env 'x'"],
  writableDirs: [{ path: "cache $dir", mode: "0775", owner: "www-data", group: "www data" }],
});
const meta = (id: string, state: string) =>
  `meta ${JSON.stringify({ id, state, stage: "prod", who: "a@b", revision: null, started_at: "x" })}`;
const facts = hostFacts(ROOT, [
  "lock acquired",
  "root ok",
  "writable yes",
  "current dir",
  meta("20261127T100000Z", "superseded"),
  meta("20261127T110000Z", "live"),
  "shared dir storage/up loads",
  "shared file .env 'x'",
  "avail 100",
]);
const hosts = [{ host: stage.hosts[0]!, facts }];
const builds = (...ids: string[]) => ({ root: "/home/me/.cache/cutover/prod-x/builds", ids });
const deploy = (kept: string[]) =>
  planInPlaceDeployRun({
    stage,
    hosts,
    source: { revision: null, paths: new Map() },
    releaseId: "20261127T120000Z",
    who: "me",
    now: "2026-11-27T12:00:00Z",
    builds: builds(...kept),
  });

function wordsOf(c: Cmd): string[] {
  const { cwd: _cwd, mayFail: _m, quiet: _q, stdoutTo: _s, append: _a, ...plain } = c;
  const text = renderCmd({ ...plain, argv: ["printf", "%s\\0", ...c.argv] });
  return execFileSync("sh", ["-c", text]).toString("utf8").split("\0").slice(0, -1);
}

test("the upload is the switch: delayed updates into current, shared and writable paths excluded", () => {
  const h = deploy(["20261127T110000Z", "20261127T120000Z"]).hosts[0]!;
  assert.equal(h.previous, "20261127T110000Z", "the live release is the one its metadata says");
  assert.deepEqual(h.inPlace?.upload, {
    from: "/home/me/.cache/cutover/prod-x/builds/20261127T120000Z",
    to: `${ROOT}/current`,
    directory: true,
    linkDest: [],
    exclude: [".git", "/storage/up loads", "/.env 'x'", "/cache $dir"],
    compare: "mtime",
    live: true,
  });
  assert.equal(h.inPlace?.undo?.from, "/home/me/.cache/cutover/prod-x/builds/20261127T110000Z");
  assert.deepEqual(h.inPlace?.untouched, ["storage/up loads", ".env 'x'", "cache $dir"]);
  assert.deepEqual(h.clean, [], "metadata without a release directory is not a leftover here");
  assert.deepEqual(h.prune, []);
});

test("without the live release's build on this machine there is no undo upload", () => {
  assert.equal(deploy(["20261127T120000Z"]).hosts[0]!.inPlace?.undo, undefined);
});

test("every in-place host command reaches the shell as exactly its argv", () => {
  const h = deploy(["20261127T110000Z", "20261127T120000Z"]).hosts[0]!;
  const cmds = [
    ...h.prepare.flatMap((s) => (s.kind === "run" ? s.cmds : [])),
    h.switchTo,
    h.inPlace!.measure,
  ];
  assert.ok(cmds.length >= 6);
  for (const c of cmds) assert.deepEqual(wordsOf(c), [...c.argv]);
});

test("rollback needs the target's build here; otherwise one line naming what is kept", () => {
  const plan = planInPlaceRollbackRun({
    stage,
    hosts,
    to: undefined,
    force: false,
    now: "n",
    builds: builds("20261127T100000Z", "20261127T110000Z"),
  });
  assert.equal(plan.release, "20261127T100000Z");
  assert.equal(plan.hosts[0]!.inPlace?.undo?.from.endsWith("/20261127T110000Z"), true);
  assert.throws(
    () =>
      planInPlaceRollbackRun({
        stage,
        hosts,
        to: undefined,
        force: false,
        now: "n",
        builds: builds("20261127T110000Z"),
      }),
    /the build of release 20261127T100000Z is not kept on this machine \(.*\)/,
  );
});

test("a releases layout is refused: current as a symlink, or releases/ holding releases", () => {
  const linked = hostFacts(ROOT, [
    "lock acquired",
    "root ok",
    "current link releases/20261127T100000Z",
    "release 20261127T100000Z",
  ]);
  assert.throws(
    () => planInPlaceDeployRun({ ...deployInput(), hosts: [{ host: stage.hosts[0]!, facts: linked }] }),
    /current is a symlink \(the releases layout\), but strategy is in-place/,
  );
  const releases = hostFacts(ROOT, ["lock acquired", "root ok", "current dir", "release 20261127T100000Z"]);
  assert.throws(
    () => planInPlaceDeployRun({ ...deployInput(), hosts: [{ host: stage.hosts[0]!, facts: releases }] }),
    /releases holds releases of strategy: releases/,
  );
});

function deployInput() {
  return {
    stage,
    hosts,
    source: { revision: null, paths: new Map() },
    releaseId: "20261127T120000Z",
    who: "me",
    now: "n",
    builds: builds(),
  };
}
