import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { stringify } from "yaml";
import { type AgentProcess, startAgent } from "../helpers/agent.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";
import { killEach, processesWith } from "../helpers/interrupt.js";

/**
 * `cutover agent` with a tag named like the deployed branch (a real origin, HTTP on 127.0.0.1): a
 * pushed tag is not the branch, and a pull of the ambiguous name refuses instead of guessing.
 */
const fx = fixture("agent refs");
const SECRET = "webhook-secret-for-tests";
let agent: AgentProcess | undefined;
after(async () => {
  await agent?.stop("SIGKILL");
  killEach(processesWith(fx.dir));
  fx.cleanup();
});

const origin = gitOrigin(path.join(fx.dir, "origin"));
const deployPath = path.join(fx.dir, "deploy ü");
const config = path.join(fx.dir, "cutover.yaml");
writeFileSync(
  config,
  stringify({
    strategy: "git",
    repository: origin.bare,
    ref: "main",
    agent: { secrets: ["${HOOK_SECRET}"], poll: 0 },
    stages: { production: { hosts: [{ path: deployPath }] } },
  }),
);
const liveCommit = (): string => {
  const id = path.basename(realpathSync(path.join(deployPath, "current")));
  return JSON.parse(readFileSync(path.join(deployPath, ".cutover/releases", `${id}.json`), "utf8")).revision
    .commit;
};
async function push(a: AgentProcess, ref: string, commit: string) {
  const body = JSON.stringify({ ref, after: commit, before: "0".repeat(40) });
  const signature = createHmac("sha256", SECRET).update(body).digest("hex");
  const r = await fetch(`${a.url}/webhook`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": `sha256=${signature}`,
    },
    body,
  });
  return { status: r.status, body: (await r.json()) as { status: string; reason?: string } };
}

test("a pushed tag named like the branch never deploys; the ambiguous name makes the pull refuse", async () => {
  const old = origin.commit({ "index.php": "<?php echo 'old';\n" }, "old");
  const tip = origin.commit({ "index.php": "<?php echo 'tip';\n" }, "tip");
  agent = await startAgent(config, fx.dir, { HOOK_SECRET: SECRET });
  const a = agent;
  await a.waitFor((l) => l.event === "pull.deployed" && l.commit === tip);
  const releases = readdirSync(path.join(deployPath, "releases"));

  origin.git("tag", "main", old);
  origin.git("push", "-q", "origin", "refs/tags/main");
  const tag = await push(a, "refs/tags/main", old);
  assert.equal(tag.status, 202, JSON.stringify(tag.body));
  assert.equal(tag.body.status, "ignored", "a tag is not the branch main");

  const from = a.lines.length;
  const branch = await push(a, "refs/heads/main", tip);
  assert.equal(branch.status, 202, JSON.stringify(branch.body));
  assert.notEqual(branch.body.status, "ignored");
  const refused = await a.waitFor(
    (l) => l.event.startsWith("pull.") && l.event !== "pull.start",
    30_000,
    from,
  );
  assert.match(JSON.stringify(refused), /both a branch and a tag/);
  assert.equal(liveCommit(), tip, "the old commit the tag names was never deployed");
  assert.deepEqual(readdirSync(path.join(deployPath, "releases")), releases);
});
