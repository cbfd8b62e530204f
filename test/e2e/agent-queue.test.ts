import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { stringify } from "yaml";
import { type AgentProcess, liveCommit, startAgent } from "../helpers/agent.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";

/** Pushes during a deploy: one deploy runs, one waits, and the waiting one deploys the newest commit. */
const fx = fixture("agent queue");
const SECRET = "queue-secret";
let agent: AgentProcess | undefined;
after(async () => {
  await agent?.stop("SIGKILL");
  fx.cleanup();
});

test("three pushes during a deploy: at most one pull waits, and it deploys the newest commit (the middle one never)", async () => {
  const origin = gitOrigin(path.join(fx.dir, "repo"));
  const deployPath = path.join(fx.dir, "deploy");
  const config = path.join(fx.dir, "queue.yaml");
  writeFileSync(
    config,
    stringify({
      strategy: "git",
      repository: origin.bare,
      ref: "main",
      agent: { poll: 0, secrets: [SECRET] },
      hooks: { build: ["sleep 2"] }, // every deploy takes a while: pushes arrive during one
      stages: { production: { hosts: [{ path: deployPath }] } },
    }),
  );
  const zero = origin.commit({ "index.php": "<?php echo 0;\n" }, "zero");
  agent = await startAgent(config, fx.dir);
  const a = agent;
  await a.waitFor((l) => l.event === "pull.deployed" && l.commit === zero, 60_000);
  while ((await a.status()).running !== null) await new Promise((r) => setTimeout(r, 50));
  const from = a.lines.length;
  const push = async (n: number) => {
    const commit = origin.commit({ "index.php": `<?php echo ${n};\n` }, `push ${n}`);
    const body = JSON.stringify({ ref: "refs/heads/main", after: commit });
    const r = await fetch(`${a.url}/webhook`, {
      method: "POST",
      headers: {
        "x-github-event": "push",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`,
      },
      body,
    });
    return { commit, answer: ((await r.json()) as { status: string }).status };
  };
  const first = await push(1);
  assert.equal(first.answer, "started");
  await a.waitFor((l) => l.event === "pull.start", 10_000, from);
  const second = await push(2);
  const third = await push(3);
  assert.deepEqual([second.answer, third.answer], ["queued", "queued"]);
  const status = await a.status();
  assert.ok(status.running !== null && typeof status.queued === "string", JSON.stringify(status));

  await a.waitFor((l) => l.event === "pull.deployed" && l.commit === third.commit, 60_000, from);
  await new Promise((r) => setTimeout(r, 500));
  const pulls = a.lines.slice(from).filter((l) => l.event === "pull.start");
  assert.equal(pulls.length, 2, "the running pull and one that waited");
  const deployed = a.lines
    .slice(from)
    .filter((l) => l.event === "pull.deployed")
    .map((l) => l.commit);
  assert.deepEqual(deployed, [first.commit, third.commit], "the middle commit was never deployed");
  assert.equal(liveCommit(deployPath), third.commit);
  const metas = readdirSync(path.join(deployPath, ".cutover/releases")).filter((f) => f.endsWith(".json"));
  const commits = metas.map(
    (f) => JSON.parse(readFileSync(path.join(deployPath, ".cutover/releases", f), "utf8")).revision?.commit,
  );
  assert.ok(!commits.includes(second.commit));
  assert.equal(await a.stop(), 0);
});

test("a failing commit is tried once, not in a loop: later polls and a restarted agent leave it alone", async () => {
  const origin = gitOrigin(path.join(fx.dir, "repo 2"));
  const deployPath = path.join(fx.dir, "deploy 2");
  const config = path.join(fx.dir, "failing.yaml");
  writeFileSync(
    config,
    stringify({
      strategy: "git",
      repository: origin.bare,
      ref: "main",
      agent: { poll: 0.5 },
      hooks: { build: ["test ! -e BROKEN"] }, // the release's build fails when the commit has BROKEN
      stages: { production: { hosts: [{ path: deployPath }] } },
    }),
  );
  const good = origin.commit({ "index.php": "<?php echo 1;\n" }, "good");
  const a = await startAgent(config, fx.dir);
  agent = a;
  await a.waitFor((l) => l.event === "pull.deployed" && l.commit === good, 60_000);
  const broken = origin.commit({ BROKEN: "yes\n" }, "broken build");
  await a.waitFor((l) => l.event === "pull.failed" && l.commit === broken, 60_000);
  await new Promise((r) => setTimeout(r, 3000)); // six more polls
  const tries = a.lines.filter(
    (l) => l.event === "pull.start" && String(l.reason).includes(broken.slice(0, 12)),
  );
  assert.equal(tries.length, 1, "tried once");
  assert.equal(liveCommit(deployPath), good);
  assert.equal(await a.stop(), 0);

  const b = await startAgent(config, fx.dir);
  agent = b;
  const skipped = await b.waitFor((l) => l.event === "pull.skipped" && l.commit === broken, 30_000);
  assert.match(String(skipped.why), /is failed/);
  assert.equal(liveCommit(deployPath), good);
  const fixed = origin.commit({ BROKEN: null }, "fixed");
  await b.waitFor((l) => l.event === "pull.deployed" && l.commit === fixed, 60_000);
  assert.equal(await b.stop(), 0);
});
