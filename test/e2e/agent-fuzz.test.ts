import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, test } from "node:test";
import { stringify } from "yaml";
import { type AgentProcess, startAgent } from "../helpers/agent.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";
import { rng } from "../helpers/hostile.js";

/** A bounded fuzz of the agent's HTTP side: random bodies and headers, seeded, never a crash. */
const fx = fixture("agent fuzz");
const SECRET = "fuzz-secret";
let agent: AgentProcess | undefined;
after(async () => {
  await agent?.stop("SIGKILL");
  fx.cleanup();
});

const SEED = Number(process.env.AGENT_FUZZ_SEED ?? 20261130);
const ROUNDS = 300;

test(`${ROUNDS} random requests and 40 raw sockets (seed ${SEED}): every one answered, the agent alive, nothing deployed`, async () => {
  const dir = path.join(fx.dir, "fuzz");
  mkdirSync(dir, { recursive: true });
  const origin = gitOrigin(dir);
  const deployPath = path.join(dir, "deploy");
  const config = path.join(dir, "cutover.yaml");
  writeFileSync(
    config,
    stringify({
      strategy: "git",
      repository: origin.bare,
      ref: "main",
      agent: { poll: 0, secrets: [SECRET], body_limit: 4096, rate_limit: 100_000 },
      stages: { production: { hosts: [{ path: deployPath }] } },
    }),
  );
  origin.commit({ "index.php": "<?php echo 1;\n" }, "one");
  agent = await startAgent(config, dir);
  await agent.waitFor((l) => l.event === "pull.deployed");
  const releasesBefore = readdirSync(path.join(deployPath, "releases"));
  const pullsBefore = agent.lines.filter((l) => l.event === "pull.start").length;

  const r = rng(SEED);
  const junk = (max: number) => Buffer.from(Array.from({ length: r.int(max) }, () => r.int(256)));
  const text = (max: number) =>
    Array.from({ length: r.int(max) }, () => String.fromCharCode(32 + r.int(95))).join("");
  const bodies = [
    () => junk(200),
    () => Buffer.from(text(300)),
    () =>
      Buffer.from(
        JSON.stringify({
          ref: r.pick(["refs/heads/dev", "refs/tags/x", 7, null, "main\n", "x".repeat(2000)]),
          after: r.pick(["a".repeat(40), "", 1, "0".repeat(40)]),
        }),
      ),
    () => Buffer.from(JSON.stringify(r.pick([[], null, 1, "s", { nested: { ref: "refs/heads/main" } }]))),
    // A push of the configured branch that deletes it: proven, but never a deploy.
    () => Buffer.from(JSON.stringify({ ref: "refs/heads/main", after: "0".repeat(40) })),
    () => Buffer.alloc(4096 + r.int(5000), 120),
  ];
  const names = [
    "x-hub-signature-256",
    "x-github-delivery",
    "x-github-event",
    "x-gitlab-token",
    "x-gitlab-event",
    "x-gitlab-event-uuid",
    "x-gitea-signature",
    "x-gitea-event",
    "x-gitea-delivery",
    "content-type",
    "content-length",
  ];
  const allowed = new Set([200, 202, 400, 401, 403, 404, 405, 409, 413, 429]);
  const tally = new Map<number, number>();
  for (let i = 0; i < ROUNDS; i++) {
    const body = r.pick(bodies)();
    const mac = createHmac("sha256", SECRET).update(body).digest("hex");
    // Half the requests carry a valid proof, so the checks after the signature are fuzzed too.
    const proof: Record<string, Record<string, string>> = {
      github: {
        "x-hub-signature-256": `sha256=${mac}`,
        "x-github-delivery": `d-${r.int(40)}`,
        "x-github-event": r.pick(["push", "ping", "issues"]),
      },
      gitlab: {
        "x-gitlab-token": SECRET,
        "x-gitlab-event-uuid": `d-${r.int(40)}`,
        "x-gitlab-event": r.pick(["Push Hook", "Tag Push Hook"]),
      },
      gitea: {
        "x-gitea-signature": mac,
        "x-gitea-delivery": `d-${r.int(40)}`,
        "x-gitea-event": r.pick(["push", "create"]),
      },
    };
    const withProof = r.chance(0.5);
    const headers: Record<string, string> = withProof ? { ...r.pick(Object.values(proof)) } : {};
    for (let h = r.int(4); h > 0; h--) {
      const name = r.pick(names);
      if (name === "content-length") continue; // fetch sets it; a wrong one is a client error, not ours to fuzz
      headers[name] = r.pick([text(80), `sha256=${mac}`, mac, SECRET, "push", "Push Hook", `d-${r.int(20)}`]);
    }
    const method = withProof ? "POST" : r.pick(["POST", "POST", "POST", "GET", "PUT", "DELETE"]);
    const where = withProof
      ? "/webhook"
      : r.pick(["/webhook", "/webhook", "/status", "/", "/webhook?x=1", "/%ff"]);
    const res = await fetch(`${agent.url}${where}`, {
      method,
      headers,
      body: method === "GET" ? undefined : new Uint8Array(body),
    }).catch((e: Error) => e);
    if (res instanceof Error) {
      // Only an oversized body may see its connection closed before the answer is read.
      assert.ok(body.length > 4096, `round ${i}: ${res.message}`);
      continue;
    }
    assert.ok(allowed.has(res.status), `round ${i}: ${method} ${where} → ${res.status}`);
    tally.set(res.status, (tally.get(res.status) ?? 0) + 1);
    await res.arrayBuffer();
  }
  // Not even HTTP: raw bytes, broken request lines and headers on a socket of their own.
  const { hostname, port } = new URL(agent.url);
  for (let i = 0; i < 40; i++) {
    const raw = r.pick([
      () => junk(300),
      () =>
        Buffer.from(
          `POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: ${r.int(99999)}\r\n\r\n${text(50)}`,
        ),
      () => Buffer.from(`GET /status HTTP/1.1\r\n${text(200)}\r\n\r\n`),
      () => Buffer.from(`${text(20)} ${text(20)} HTTP/9.9\r\n\r\n`),
    ])();
    await new Promise<void>((done) => {
      const socket = net.connect(Number(port), hostname, () => socket.end(raw));
      socket.setTimeout(2000, () => socket.destroy());
      socket.on("data", () => undefined);
      socket.on("error", () => done());
      socket.on("close", () => done());
    });
  }
  // The fuzz reached every check, including those after a proven signature (a provider is named).
  for (const code of [401, 403, 404, 413])
    assert.ok(tally.has(code), `no ${code} in ${JSON.stringify([...tally])}`);
  const proven = agent.lines.filter((l) => l.event.startsWith("webhook.") && typeof l.provider === "string");
  assert.ok(proven.length >= 60, `only ${proven.length} requests got past the signature check`);
  const status = await agent.status();
  assert.equal(status.stage, "production", "still answering");
  assert.equal(agent.child.exitCode, null, "still running");
  assert.deepEqual(readdirSync(path.join(deployPath, "releases")), releasesBefore, "nothing deployed");
  assert.equal(agent.lines.filter((l) => l.event === "pull.start").length, pullsBefore);
  assert.deepEqual(agent.other, [], "every log line is JSON");
  assert.equal(await agent.stop(), 0);
});
