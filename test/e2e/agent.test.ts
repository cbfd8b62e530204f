import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { stringify } from "yaml";
import { type AgentProcess, liveCommit, startAgent, until } from "../helpers/agent.js";
import { fixture } from "../helpers/fixture.js";
import { type GitOrigin, gitOrigin } from "../helpers/git-origin.js";
import { killEach, processesWith } from "../helpers/interrupt.js";
import { assertCurrentComplete } from "../helpers/tree.js";

/** `cutover agent` for real: a git origin, HTTP on 127.0.0.1, the engine on a local deploy path. */
const fx = fixture("agent");
const SECRET = "webhook-secret-for-tests";
const running: AgentProcess[] = [];
after(async () => {
  for (const a of running) await a.stop("SIGKILL");
  killEach(processesWith(fx.dir));
  fx.cleanup();
});

interface Setup {
  readonly origin: GitOrigin;
  readonly deployPath: string;
  readonly config: string;
  start(args?: string[]): Promise<AgentProcess>;
}

let n = 0;
/** Its own origin, deploy path and config; `agent:` settings and hooks from the test. */
function setup(agent: Record<string, unknown>, extra: Record<string, unknown> = {}): Setup {
  n += 1;
  const dir = path.join(fx.dir, `case ${n}`);
  mkdirSync(dir, { recursive: true });
  const origin = gitOrigin(dir);
  const deployPath = path.join(dir, `deploy "${n}" ü`);
  const config = path.join(dir, "cutover.yaml");
  writeFileSync(
    config,
    stringify({
      strategy: "git",
      repository: origin.bare,
      ref: "main",
      agent: { secrets: ["${HOOK_SECRET}"], ...agent },
      ...extra,
      stages: { production: { hosts: [{ path: deployPath }] } },
    }),
  );
  return {
    origin,
    deployPath,
    config,
    start: async (args = []) => {
      const a = await startAgent(config, dir, { HOOK_SECRET: SECRET }, args);
      running.push(a);
      return a;
    },
  };
}

const releases = (deployPath: string) => readdirSync(path.join(deployPath, "releases")).sort();

const hmac = (body: string, secret = SECRET) => createHmac("sha256", secret).update(body).digest("hex");
const pushBody = (commit: string, ref = "refs/heads/main") =>
  JSON.stringify({ ref, after: commit, before: "0".repeat(40) });
type Forge = "github" | "gitlab" | "gitea";
function signed(
  forge: Forge,
  body: string,
  delivery = randomUUID(),
  secret = SECRET,
): Record<string, string> {
  if (forge === "github")
    return {
      "x-github-event": "push",
      "x-github-delivery": delivery,
      "x-hub-signature-256": `sha256=${hmac(body, secret)}`,
    };
  if (forge === "gitlab")
    return { "x-gitlab-event": "Push Hook", "x-gitlab-event-uuid": delivery, "x-gitlab-token": secret };
  return { "x-gitea-event": "push", "x-gitea-delivery": delivery, "x-gitea-signature": hmac(body, secret) };
}
async function post(a: AgentProcess, headers: Record<string, string>, body: string) {
  const r = await fetch(`${a.url}/webhook`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { status: r.status, body: (await r.json()) as { status: string; reason?: string } };
}

test("polling: a pushed commit is deployed within the poll interval; GET /status shows it", async () => {
  const s = setup({ poll: 1 });
  const first = s.origin.commit({ "index.php": "<?php echo 1;\n" }, "one");
  const a = await s.start();
  assert.match(a.url, /^http:\/\/127\.0\.0\.1:\d+$/, "binds the loopback address by default");
  await until(() => liveCommit(s.deployPath) === first, 30_000, "first commit live");
  await a.waitFor((l) => l.event === "pull.deployed");
  const from = a.lines.length;
  const second = s.origin.commit({ "index.php": "<?php echo 2;\n" }, "two");
  const pushed = Date.now();
  const start = await a.waitFor((l) => l.event === "pull.start", 10_000, from);
  assert.match(String(start.reason), new RegExp(`poll found ${second.slice(0, 12)}`));
  assert.ok(
    Date.now() - pushed < 1000 + 4000,
    "the poll noticed the push within its interval (+ ls-remote time on a busy machine)",
  );
  await a.waitFor((l) => l.event === "pull.deployed" && l.commit === second, 30_000, from);
  const status = await a.status();
  assert.equal((status.live as { commit: string }).commit, second);
  assert.equal((status.last as { action: string }).action, "deployed");
  assert.equal(status.ref, "main");
  assert.equal((status.poll as { lastCommit: string }).lastCommit, second);
  assert.equal(liveCommit(s.deployPath), second);
  assertCurrentComplete(s.deployPath);
  assert.equal(await a.stop(), 0);
  assert.deepEqual(a.other, [], "every log line is JSON");
  assert.ok(!a.lines.some((l) => JSON.stringify(l).includes(SECRET)), "the secret is never logged");
});

test("webhooks: valid GitHub, GitLab and Gitea pushes deploy; bad ones are refused, logged, and deploy nothing", async () => {
  const s = setup({ poll: 0, body_limit: 2048 });
  let commit = s.origin.commit({ "index.php": "<?php echo 0;\n" }, "zero");
  const a = await s.start();
  await until(() => liveCommit(s.deployPath) === commit, 30_000, "startup check deployed the ref");

  for (const forge of ["github", "gitlab", "gitea"] as const) {
    commit = s.origin.commit({ "index.php": `<?php echo '${forge}';\n` }, forge);
    const body = pushBody(commit);
    const r = await post(a, signed(forge, body), body);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.ok(["started", "queued"].includes(r.body.status), r.body.status);
    await until(() => liveCommit(s.deployPath) === commit, 30_000, `${forge} push deployed`);
  }
  await a.waitFor((l) => l.event === "pull.deployed" && l.commit === commit);

  // A new commit waits in the origin: any request below that deployed it would show.
  const pending = s.origin.commit({ "index.php": "<?php echo 'pending';\n" }, "pending");
  const body = pushBody(pending);
  const before = { releases: releases(s.deployPath), lines: a.lines.length };
  const replayed = signed("github", body);
  const cases: [string, Record<string, string>, string, number][] = [
    ["wrong secret", signed("github", body, randomUUID(), "not-the-secret"), body, 403],
    ["signature of another body", signed("gitea", pushBody(commit)), body, 403],
    ["wrong GitLab token", signed("gitlab", body, randomUUID(), `${SECRET}x`), body, 403],
    ["missing signature", { "x-github-event": "push", "x-github-delivery": randomUUID() }, body, 401],
    ["missing delivery id", { ...signed("github", body), "x-github-delivery": "" }, body, 400],
    ["malformed JSON", signed("github", "{nope"), "{nope", 400],
    ["oversized body", signed("github", "x".repeat(4096)), "x".repeat(4096), 413],
    [
      "other branch",
      signed("gitlab", pushBody(pending, "refs/heads/dev")),
      pushBody(pending, "refs/heads/dev"),
      202,
    ],
  ];
  for (const [what, headers, b, status] of cases) {
    const r = await post(a, headers, b);
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
    if (status === 202) assert.equal(r.body.status, "ignored", what);
  }
  // Without a Content-Length (chunked), the limit is counted as the body arrives.
  const chunks = new ReadableStream({
    start: (c) => {
      for (let i = 0; i < 8; i++) c.enqueue(new TextEncoder().encode("y".repeat(1000)));
      c.close();
    },
  });
  const chunked = await fetch(`${a.url}/webhook`, {
    method: "POST",
    headers: signed("github", "y".repeat(8000)),
    body: chunks,
    duplex: "half",
  } as RequestInit);
  assert.equal(chunked.status, 413);
  // A replay: the first delivery is genuine (and deploys); the same id again is refused.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(
    a.lines.slice(before.lines).filter((l) => l.event === "pull.start").length,
    0,
    "nothing was pulled",
  );
  assert.deepEqual(releases(s.deployPath), before.releases, "no release was made");
  assert.equal(liveCommit(s.deployPath), commit);
  const logged = a.lines
    .slice(before.lines)
    .filter((l) => l.event === "webhook.rejected" || l.event === "webhook.ignored");
  assert.equal(logged.length, cases.length + 1, JSON.stringify(logged));
  assert.ok(logged.every((l) => typeof l.reason === "string" && typeof l.status === "number"));

  const genuine = await post(a, replayed, body);
  assert.equal(
    genuine.status,
    202,
    "the same request, correctly signed, deploys: the refusals above were the checks'",
  );
  await until(() => liveCommit(s.deployPath) === pending, 30_000, "genuine push deployed");
  const replay = await post(a, replayed, body);
  assert.equal(replay.status, 409);
  assert.match(replay.body.reason ?? "", /replay/);
  // The delivery id is not signed: the same body under a new id is a replay too.
  const renamed = await post(a, { ...replayed, "x-github-delivery": randomUUID() }, body);
  assert.equal(renamed.status, 409);
  assert.match(renamed.body.reason ?? "", /replay/);

  // The replay stays refused after a restart: seen deliveries are kept in the state file.
  assert.equal(await a.stop(), 0);
  const b = await s.start();
  const again = await post(b, replayed, body);
  assert.equal(again.status, 409);
  const renamedAgain = await post(b, { ...replayed, "x-github-delivery": randomUUID() }, body);
  assert.equal(renamedAgain.status, 409, "seen bodies are kept in the state file too");
  assert.equal(await b.stop(), 0);
  for (const agent of [a, b]) {
    assert.deepEqual(agent.other, [], "every log line is JSON");
    assert.ok(!agent.lines.some((l) => JSON.stringify(l).includes(SECRET)), "the secret is never logged");
  }
});

test("rate limit: requests beyond agent.rate_limit a minute are answered 429 with Retry-After", async () => {
  const s = setup({ poll: 0, rate_limit: 3 });
  s.origin.commit({ "index.php": "<?php echo 1;\n" }, "one");
  const a = await s.start();
  const statuses = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 5; i++) {
    const r = await fetch(`${a.url}/status`);
    statuses.push(r.status);
    if (r.status === 429) retryAfter = r.headers.get("retry-after");
    await r.arrayBuffer();
  }
  assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
  assert.ok(Number(retryAfter) >= 1);
  assert.ok(a.lines.some((l) => l.event === "request.limited"));
  assert.equal(await a.stop(), 0);
});

test("poll errors back off exponentially up to backoff_max; once the repository answers, the agent deploys", async () => {
  const s = setup({ poll: 1, backoff_max: 4 });
  const missing = `${s.origin.bare}.moved`;
  // The origin is not there yet: every poll fails until it is.
  rmSync(missing, { recursive: true, force: true });
  const text = readFileSync(s.config, "utf8").replace(s.origin.bare, missing);
  writeFileSync(s.config, text);
  const a = await s.start();
  const failed = async (failures: number) =>
    a.waitFor((l) => l.event === "poll.failed" && l.failures === failures, 15_000);
  assert.deepEqual(
    [(await failed(1)).retry_in_s, (await failed(2)).retry_in_s, (await failed(3)).retry_in_s],
    [2, 4, 4],
  );
  const polling = (await a.status()).poll as { lastError: string; failures: number };
  assert.ok(polling.lastError.length > 0 && polling.failures >= 3, JSON.stringify(polling));
  const commit = s.origin.commit({ "index.php": "<?php echo 1;\n" }, "one");
  renameSync(s.origin.bare, missing);
  await until(() => liveCommit(s.deployPath) === commit, 30_000, "deployed once the repository answered");
  assert.equal(((await a.status()).poll as { failures: number }).failures, 0);
  assert.equal(await a.stop(), 0);
});

test("/status never shows a secret: a remembered failure's reason is redacted", async () => {
  const s = setup({ poll: 0 });
  const commit = s.origin.commit({ "index.php": "<?php echo 1;\n" }, "one");
  // An attempt remembered with the secret in its reason (as an older cutover stored it).
  const stateFile = path.join(s.deployPath, ".cutover/agent/state.json");
  mkdirSync(path.dirname(stateFile), { recursive: true });
  const reason = `cannot log in with ${SECRET}`;
  const at = new Date().toISOString();
  writeFileSync(stateFile, JSON.stringify({ failed: [{ commit, at, reason }], deliveries: [] }));
  const a = await s.start();
  await a.waitFor((l) => l.event === "pull.skipped", 30_000);
  const status = JSON.stringify(await a.status());
  assert.ok(status.includes("cannot log in with [REDACTED]"), `the reason is shown, redacted: ${status}`);
  assert.ok(!status.includes(SECRET), `/status shows the secret: ${status}`);
  assert.equal(await a.stop(), 0);
});
