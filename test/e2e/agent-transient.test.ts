import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { stringify } from "yaml";
import { type AgentProcess, liveCommit, startAgent, until } from "../helpers/agent.js";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { type GitHttp, gitHttp } from "../helpers/git-http.js";
import { type GitOrigin, gitOrigin } from "../helpers/git-origin.js";
import { killEach, processesWith } from "../helpers/interrupt.js";
import { assertCurrentComplete } from "../helpers/tree.js";

/**
 * Pull mode and failures that say nothing about the commit: the origin is a real git smart-HTTP
 * server on 127.0.0.1 whose fetches fail (503) while `down`, while its listing still answers, as
 * a network failing between `git ls-remote` and the host's fetch. Such a failure is tried again
 * after a bounded backoff; a failing build is held until a new commit or --retry.
 */
const fx = fixture("agent-transient");
const running: AgentProcess[] = [];
const servers: GitHttp[] = [];
after(async () => {
  for (const a of running) await a.stop("SIGKILL");
  for (const s of servers) await s.close();
  killEach(processesWith(fx.dir));
  fx.cleanup();
});

let n = 0;
async function setup(agent: Record<string, unknown> = { poll: 1, backoff_max: 2 }): Promise<{
  origin: GitOrigin;
  deployPath: string;
  config: string;
  dir: string;
  outage: { down: boolean };
}> {
  n += 1;
  const dir = path.join(fx.dir, `case ${n}`);
  mkdirSync(dir, { recursive: true });
  const origin = gitOrigin(dir);
  const outage = { down: false };
  const server = await gitHttp(origin.bare, "deploy", "pw", { failFetch: () => outage.down });
  servers.push(server);
  const deployPath = path.join(dir, "deploy ü");
  const config = path.join(dir, "cutover.yaml");
  writeFileSync(
    config,
    stringify({
      strategy: "git",
      repository: server.url.replace("http://", "http://deploy:pw@"),
      ref: "main",
      // A release that carries BROKEN fails its build: that fails again the same way.
      hooks: {
        build: ["test ! -e BROKEN || { echo 'BROKEN is in this commit' >&2; exit 1; }"],
        // A deploy run with GATE set holds the lock until that file exists.
        before_switch: [
          'if [ -n "$GATE" ]; then : > "$GATE.held"; while [ ! -e "$GATE" ]; do sleep 0.05; done; fi',
        ],
      },
      agent,
      stages: { production: { hosts: [{ path: deployPath }] } },
    }),
  );
  return { origin, deployPath, config, dir, outage };
}

test("agent: a fetch that failed on the network is tried again after a backoff, and /status says when", async () => {
  const s = await setup();
  const v1 = s.origin.commit({ "index.php": "<?php echo 1;\n" }, "v1");
  s.outage.down = true;
  const a = await startAgent(s.config, s.dir);
  running.push(a);
  const failed = await a.waitFor((l) => l.event === "pull.failed" && l.commit === v1);
  assert.match(String(failed.error), /fetch repository mirror failed/);
  assert.equal(typeof failed.retry_at, "string", JSON.stringify(failed));
  const status = await a.status();
  const retry = status.retry as { commit: string; at: string; reason: string } | null;
  assert.equal(retry?.commit, v1, JSON.stringify(status));
  assert.ok(Date.parse(retry.at) > Date.now() - 5000, "a time to come");
  s.outage.down = false;
  await a.waitFor((l) => l.event === "pull.deployed" && l.commit === v1, 20_000);
  assert.equal(liveCommit(s.deployPath), v1);
  assertCurrentComplete(s.deployPath);
  assert.equal((await a.status()).retry, null, "nothing left to retry");
  assert.equal(await a.stop(), 0);
});

test("agent: a failing build is held, not retried, until a new commit", async () => {
  const s = await setup();
  const v1 = s.origin.commit({ "index.php": "<?php echo 1;\n" }, "v1");
  const a = await startAgent(s.config, s.dir);
  running.push(a);
  await a.waitFor((l) => l.event === "pull.deployed" && l.commit === v1);
  const broken = s.origin.commit({ BROKEN: "yes\n" }, "broken build");
  const failed = await a.waitFor((l) => l.event === "pull.failed" && l.commit === broken);
  assert.equal(failed.retry_at, undefined, "held, not retried");
  const from = a.lines.length;
  await new Promise((r) => setTimeout(r, 4000)); // twice the backoff's maximum
  assert.equal(
    a.lines.slice(from).filter((l) => l.event === "pull.start").length,
    0,
    "no new attempt of the same commit",
  );
  assert.equal(liveCommit(s.deployPath), v1);
  const fixed = s.origin.commit({ BROKEN: null }, "fixed");
  await a.waitFor((l) => l.event === "pull.deployed" && l.commit === fixed, 20_000, from);
  assert.equal(await a.stop(), 0);
});

test("pull (cron): a network failure says when it will be tried again; before then it is skipped, after it deploys", async () => {
  // A first backoff of 8 s: the three pulls before it must all fall inside it, also on a busy machine
  // (with 1 s, a full run beside two other jobs saw the retry time pass before the dry run).
  const s = await setup({ poll: 8, backoff_max: 16 });
  const pull = (...args: string[]) => cutover(["-c", s.config, ...args], s.dir);
  const v1 = s.origin.commit({ "index.php": "<?php echo 1;\n" }, "v1");
  s.outage.down = true;
  const r = await pull("pull");
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /fetch repository mirror failed/);
  assert.match(r.stderr, /looks transient .*; the next pull from \S+ tries it again/);
  s.outage.down = false;
  const dry = await pull("--json", "--dry-run", "pull");
  const said = JSON.parse(dry.stdout) as { action: string; retryAt?: string };
  assert.equal(said.action, "skip", dry.stdout);
  assert.ok(said.retryAt && Date.parse(said.retryAt) > Date.now() - 5000, dry.stdout);
  const early = await pull("pull");
  assert.equal(early.code, 0, early.stderr);
  assert.match(early.stderr, new RegExp(`not deploying ${v1} yet: .*; next try from \\S+`));
  assert.equal(liveCommit(s.deployPath), null);
  await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(said.retryAt!) - Date.now() + 200)));
  const later = await pull("pull");
  assert.equal(later.code, 0, later.stderr);
  assert.equal(liveCommit(s.deployPath), v1);
});

test("agent without polling: a pull that found the lock held by another deploy is tried again after a backoff", async () => {
  const s = await setup({ poll: 0, backoff_max: 1 });
  const v1 = s.origin.commit({ "index.php": "<?php echo 1;\n" }, "v1");
  const v2 = s.origin.commit({ "index.php": "<?php echo 2;\n" }, "v2");
  const gate = path.join(s.dir, "gate");
  // Another deploy (of v1) holds the lock until the gate opens.
  const other = cutover(["-c", s.config, "deploy", "--ref", v1], s.dir, { GATE: gate });
  await until(() => existsSync(`${gate}.held`), 30_000, "the other deploy holds the lock");
  // Opened whatever happens: a failed assertion must not leave that deploy waiting for ever.
  try {
    const a = await startAgent(s.config, s.dir);
    running.push(a);
    const refused = await a.waitFor((l) => l.event === "pull.error");
    assert.match(String(refused.error), /lock/i);
    assert.equal(typeof refused.retry_at, "string", JSON.stringify(refused));
  } finally {
    writeFileSync(gate, "");
  }
  assert.equal((await other).code, 0);
  const a = running.at(-1)!;
  await a.waitFor((l) => l.event === "pull.deployed" && l.commit === v2, 20_000);
  assert.equal(liveCommit(s.deployPath), v2);
  assert.equal(await a.stop(), 0);
});
