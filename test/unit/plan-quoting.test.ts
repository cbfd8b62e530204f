import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import type { ResolvedStage } from "../../src/config/resolve.js";
import { factsProbe } from "../../src/plan/facts-probe.js";
import { layout } from "../../src/plan/layout.js";
import { manifestProbe } from "../../src/plan/manifest.js";
import { appendHistory, releaseLock, writeMeta } from "../../src/plan/records.js";
import { switchTo } from "../../src/plan/switch.js";
import { type Cmd, renderCmd } from "../../src/shell/cmd.js";
import { hostFacts } from "../helpers/facts.js";
import { firstHostDeployPlan } from "../helpers/plan.js";
import { testStage } from "../helpers/stage.js";

const ROOT = '/srv/it\'s a "deploy" $PATH `x` ü\nnewline';
const stage: ResolvedStage = testStage({
  source: "/src/my 'app'",
  sharedDirs: ["storage/up loads"],
  sharedFiles: [".env 'x'"],
  writableDirs: [{ path: "cache $dir", mode: "0775", owner: "www-data", group: "www data" }],
  sharedAccess: new Map([["storage/up loads", { mode: "2775", owner: "-www data", group: "g'x" }]]),
  hooks: {
    ...testStage().hooks,
    build: [{ run: "echo 'built' > \"$CUTOVER_RELEASE_PATH/built\"" }],
  },
  hosts: [{ name: "web 1", path: ROOT, roles: [] }],
  snapshots: { beforeDeploy: true, keep: 2 },
});

const facts = hostFacts(
  ROOT,
  [
    "lock acquired",
    "root ok",
    "writable yes",
    "current link releases/20261127T100000Z",
    "release 20261127T100000Z",
    `meta ${JSON.stringify({ id: "20261127T100000Z", state: "live", stage: "prod", who: "a@b", revision: null, started_at: "x" })}`,
    "shared dir storage/up loads",
    "shared file .env 'x'",
    "avail 100",
  ],
  true,
);

/** Evaluates a rendered command's words (not the command) with a real sh, returning argv and env. */
function wordsOf(c: Cmd): string[] {
  const { cwd: _cwd, mayFail: _m, quiet: _q, stdoutTo: _s, append: _a, ...plain } = c;
  const text = renderCmd({ ...plain, argv: ["printf", "%s\\0", ...c.argv] });
  return execFileSync("sh", ["-c", text]).toString("utf8").split("\0").slice(0, -1);
}

const deployPlan = () => firstHostDeployPlan(stage, facts);

test("every command of a deploy plan reaches the shell as exactly its argv", () => {
  const plan = deployPlan();
  const l = layout(ROOT);
  const cmds: Cmd[] = [
    ...plan.prepare.flatMap((s) => (s.kind === "run" || s.kind === "hook" ? s.cmds : [])),
    factsProbe(ROOT, ["a b", "c'd"]),
    switchTo(l, "20261127T110000Z"),
    manifestProbe(l.release("20261127T110000Z")),
    ...writeMeta(l, plan.meta),
    releaseLock(l, { token: "t", who: "w", machine: "m", pid: 1, since: "s", command: "c" }),
    appendHistory(l, {
      event: "deploy",
      outcome: "ok",
      stage: "prod",
      host: "h",
      release: null,
      previous: null,
      revision: null,
      who: "w",
      at: "a",
      duration_ms: 1,
      reason: 'it\'s "quoted"',
    }),
  ];
  assert.ok(cmds.length > 10);
  for (const c of cmds) {
    if (c.env) continue; // env words are checked below
    assert.deepEqual(wordsOf(c), [...c.argv]);
  }
});

test("hook commands keep their env values and working directory literal", () => {
  const plan = deployPlan();
  const hook = plan.prepare.find((s) => s.kind === "hook");
  assert.ok(hook && hook.kind === "hook");
  const c = hook.cmds[0]!;
  const probe = renderCmd({
    ...c,
    cwd: undefined,
    argv: ["sh", "-c", 'printf "%s\\0" "$CUTOVER_RELEASE_PATH" "$CUTOVER_DEPLOY_PATH"'],
  });
  const [releasePath, deployPath] = execFileSync("sh", ["-c", probe]).toString("utf8").split("\0");
  assert.equal(deployPath, ROOT);
  assert.equal(releasePath, `${ROOT}/releases/20261127T110000Z`);
  assert.match(renderCmd(c), /^\(cd -- '/);
});
