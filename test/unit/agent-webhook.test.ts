import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { Deliveries } from "../../src/agent/deliveries.js";
import { type Headers, sameRef, verifyWebhook } from "../../src/agent/webhook.js";
import { handleWebhook, type WebhookContext } from "../../src/agent/webhook-handler.js";

const SECRET = "s3cret-for-tests";
const body = Buffer.from(JSON.stringify({ ref: "refs/heads/main", after: "a".repeat(40) }));
const hmac = (b: Buffer, secret = SECRET) => createHmac("sha256", secret).update(b).digest("hex");

const github = (b: Buffer, extra: Headers = {}): Headers => ({
  "x-github-event": "push",
  "x-github-delivery": "gh-1",
  "x-hub-signature-256": `sha256=${hmac(b)}`,
  ...extra,
});
const gitlab = (extra: Headers = {}): Headers => ({
  "x-gitlab-event": "Push Hook",
  "x-gitlab-event-uuid": "gl-1",
  "x-gitlab-token": SECRET,
  ...extra,
});
// Gitea also sends GitHub's headers; its own signature is the one checked.
const gitea = (b: Buffer, extra: Headers = {}): Headers => ({
  "x-gitea-event": "push",
  "x-gitea-delivery": "gt-1",
  "x-gitea-signature": hmac(b),
  "x-github-event": "push",
  "x-hub-signature-256": "sha256=00",
  ...extra,
});

test("valid signatures of GitHub, GitLab and Gitea are accepted, with their delivery ids and events", () => {
  assert.deepEqual(verifyWebhook(github(body), body, [SECRET]), {
    ok: true,
    provider: "github",
    delivery: "gh-1",
    event: "push",
  });
  assert.deepEqual(verifyWebhook(gitlab(), body, [SECRET]), {
    ok: true,
    provider: "gitlab",
    delivery: "gl-1",
    event: "Push Hook",
  });
  assert.deepEqual(verifyWebhook(gitea(body), body, [SECRET]), {
    ok: true,
    provider: "gitea",
    delivery: "gt-1",
    event: "push",
  });
});

test("any of several secrets proves a delivery (rotation)", () => {
  assert.equal(verifyWebhook(github(body), body, ["old-one", SECRET]).ok, true);
  assert.equal(verifyWebhook(gitlab(), body, [SECRET, "new-one"]).ok, true);
});

test("wrong signatures are 403, missing ones 401, and nothing is accepted without secrets", () => {
  const status = (h: Headers, secrets = [SECRET]) => {
    const v = verifyWebhook(h, body, secrets);
    return v.ok ? 200 : v.status;
  };
  assert.equal(status(github(body, { "x-hub-signature-256": `sha256=${hmac(body, "other")}` })), 403);
  assert.equal(status(github(Buffer.from("tampered")), [SECRET]), 403); // signature of another body
  assert.equal(status(github(body, { "x-hub-signature-256": `sha1=${hmac(body)}` })), 403);
  assert.equal(status(github(body, { "x-hub-signature-256": "sha256=zz" })), 403);
  assert.equal(status(github(body, { "x-hub-signature-256": undefined })), 401);
  assert.equal(status(github(body, { "x-hub-signature-256": [`sha256=${hmac(body)}`, "x"] })), 401);
  assert.equal(status(gitlab({ "x-gitlab-token": `${SECRET}x` })), 403);
  assert.equal(status(gitlab({ "x-gitlab-token": SECRET.slice(0, 4) })), 403);
  assert.equal(status(gitlab({ "x-gitlab-token": undefined })), 401);
  assert.equal(status(gitea(body, { "x-gitea-signature": hmac(body, "other") })), 403);
  assert.equal(status(gitea(body, { "x-gitea-signature": undefined })), 401);
  assert.equal(status({ "content-type": "application/json" }), 401);
  assert.equal(status(github(body), []), 403);
});

test("a proven delivery without a usable delivery id is refused: replays could not be told apart", () => {
  const v = verifyWebhook(github(body, { "x-github-delivery": undefined }), body, [SECRET]);
  assert.equal(v.ok ? 200 : v.status, 400);
  const odd = verifyWebhook(github(body, { "x-github-delivery": "a b\n" }), body, [SECRET]);
  assert.equal(odd.ok ? 200 : odd.status, 400);
});

test("refs: a short name is the branch, a tag only by its full name; HEAD follows every branch push", () => {
  assert.equal(sameRef("refs/heads/main", "main"), true);
  assert.equal(sameRef("refs/heads/main", "refs/heads/main"), true);
  assert.equal(sameRef("refs/tags/main", "main"), false, "a tag named like the branch is not the branch");
  assert.equal(sameRef("refs/tags/v1", "v1"), false);
  assert.equal(sameRef("refs/tags/v1", "refs/tags/v1"), true);
  assert.equal(sameRef("refs/heads/v1", "refs/tags/v1"), false);
  assert.equal(sameRef("refs/heads/main2", "main"), false);
  assert.equal(sameRef("refs/heads/feature/main", "main"), false);
  assert.equal(sameRef("refs/heads/dev", "HEAD"), true);
  assert.equal(sameRef("refs/tags/v1", "HEAD"), false);
});

function context(ref = "main") {
  const triggers: string[] = [];
  let persisted = 0;
  const ctx: WebhookContext = {
    secrets: [SECRET],
    ref,
    deliveries: new Deliveries(10),
    bodies: new Deliveries(10),
    persist: () => {
      persisted += 1;
    },
    trigger: (reason) => {
      triggers.push(reason);
      return "started";
    },
  };
  return { ctx, triggers, persisted: () => persisted };
}

test("handling: a valid push queues a pull; its replay is 409 and queues nothing", () => {
  const { ctx, triggers, persisted } = context();
  const first = handleWebhook(ctx, github(body), body);
  assert.equal(first.status, 202);
  assert.equal(first.body.status, "started");
  assert.equal(triggers.length, 1);
  assert.equal(persisted(), 1);
  const replay = handleWebhook(ctx, github(body), body);
  assert.equal(replay.status, 409);
  assert.equal(triggers.length, 1);
});

// The delivery id is a header the signature does not cover: a captured body must stay refused under any id.
test("handling: the same signed body under a new delivery id is a replay too (409)", () => {
  const { ctx, triggers } = context();
  assert.equal(handleWebhook(ctx, github(body, { "x-github-delivery": "first" }), body).status, 202);
  const renamed = handleWebhook(ctx, github(body, { "x-github-delivery": "second" }), body);
  assert.equal(renamed.status, 409);
  assert.match(String(renamed.body.reason), /replay/);
  assert.equal(triggers.length, 1);
  // The second id was not burnt by the refused replay: only what was accepted is remembered.
  assert.deepEqual(ctx.deliveries.list(), ["first"]);
});

test("handling: unproven, malformed, other refs, deletions and other events never queue", () => {
  const { ctx, triggers } = context();
  const sign = (b: Buffer, id: string, extra: Headers = {}) =>
    github(b, { "x-github-delivery": id, ...extra });
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const bad = Buffer.from("{not json");
  const other = json({ ref: "refs/heads/dev", after: "b".repeat(40) });
  const deleted = json({ ref: "refs/heads/main", after: "0".repeat(40) });
  const noRef = json({ after: "b".repeat(40) });
  // Each delivery has its own body, as from a forge: a body seen once is a replay under any id.
  const issue = json({ action: "opened" });
  const ping = json({ zen: "Keep it logically awesome." });
  const cases: [Headers, Buffer, number][] = [
    [sign(body, "d1", { "x-hub-signature-256": "sha256=00" }), body, 403],
    [sign(bad, "d2"), bad, 400],
    [sign(other, "d3"), other, 202],
    [sign(deleted, "d4"), deleted, 202],
    [sign(noRef, "d5"), noRef, 400],
    [sign(issue, "d6", { "x-github-event": "issues" }), issue, 202],
    [sign(ping, "d7", { "x-github-event": "ping" }), ping, 200],
  ];
  for (const [headers, b, status] of cases) {
    const a = handleWebhook(ctx, headers, b);
    assert.equal(a.status, status, `${headers["x-github-delivery"]}: ${JSON.stringify(a)}`);
    if (status === 202) assert.equal(a.body.status, "ignored");
  }
  assert.deepEqual(triggers, []);
  // The unproven delivery's id was not burnt: the genuine one still goes through.
  assert.equal(handleWebhook(ctx, sign(body, "d1"), body).status, 202);
  assert.equal(triggers.length, 1);
});

test("deliveries remember at most their limit, oldest forgotten first", () => {
  const d = new Deliveries(3, ["a", "b"]);
  d.add("c");
  d.add("d");
  assert.deepEqual(d.list(), ["b", "c", "d"]);
  assert.equal(d.has("a"), false);
  assert.equal(d.has("d"), true);
});
