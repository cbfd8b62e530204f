import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, test } from "node:test";
import { stringify } from "yaml";
import { type AgentProcess, liveCommit, startAgent, until } from "../helpers/agent.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";

/** Floods anyone who reaches the agent's port can send: they must not keep it from deploying. */
const fx = fixture("agent flood");
const sockets: net.Socket[] = [];
let agent: AgentProcess | undefined;
after(async () => {
  for (const s of sockets) s.destroy();
  await agent?.stop("SIGKILL");
  fx.cleanup();
});

test("idle connections by the hundred do not use up the agent's file descriptors: polls still deploy", async () => {
  const dir = path.join(fx.dir, "idle");
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
      agent: { poll: 1 },
      stages: { production: { hosts: [{ path: deployPath }] } },
    }),
  );
  const first = origin.commit({ "index.php": "<?php echo 1;\n" }, "one");
  agent = await startAgent(config, dir);
  await until(() => liveCommit(deployPath) === first, 30_000, "first commit live");
  // As a service would run with a small limit (the numbers are scaled down for the test).
  execFileSync("prlimit", [`--pid=${agent.child.pid}`, "--nofile=400:400"]);
  const fds = readdirSync(`/proc/${agent.child.pid}/fd`).length;
  assert.ok(fds < 100, `the agent uses ${fds} descriptors at rest`);

  // Connections that never send a request: no rate limit sees them; node closes them after 10-40 s.
  const { hostname, port } = new URL(agent.url);
  await Promise.all(
    Array.from(
      { length: 500 },
      () =>
        new Promise<void>((done) => {
          const socket = net.connect(Number(port), hostname, () => done());
          socket.on("error", () => done());
          socket.on("close", () => done());
          sockets.push(socket);
        }),
    ),
  );
  const from = agent.lines.length;
  const second = origin.commit({ "index.php": "<?php echo 2;\n" }, "two");
  await until(
    () => liveCommit(deployPath) === second,
    // Without the bound every poll fails (EMFILE) for as long as the sockets are held: a slow CI
    // machine's deploy time is no reason to fail.
    20_000,
    "second commit live while the sockets are held",
  ).catch((error: Error) => {
    const { exitCode, signalCode } = agent!.child;
    const since = [...agent!.lines.slice(from).map((l) => JSON.stringify(l)), ...agent!.other];
    throw new Error(`${error.message}; agent exit ${exitCode ?? signalCode}\n${since.join("\n")}`);
  });
  assert.equal(agent.child.exitCode, null, "still running");
});

test("a request flood beyond the rate limit writes a bounded number of log lines, not one per request", async () => {
  const dir = path.join(fx.dir, "limited");
  mkdirSync(dir, { recursive: true });
  const origin = gitOrigin(dir);
  const config = path.join(dir, "cutover.yaml");
  writeFileSync(
    config,
    stringify({
      strategy: "git",
      repository: origin.bare,
      ref: "main",
      agent: { poll: 0, rate_limit: 2 },
      stages: { production: { hosts: [{ path: path.join(dir, "deploy") }] } },
    }),
  );
  origin.commit({ "index.php": "<?php echo 1;\n" }, "one");
  const a = await startAgent(config, dir);
  const statuses = new Map<number, number>();
  for (let i = 0; i < 300; i++) {
    const r = await fetch(`${a.url}/webhook`, { method: "POST", body: "x" });
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    await r.arrayBuffer();
  }
  assert.ok((statuses.get(429) ?? 0) >= 290, JSON.stringify([...statuses]));
  assert.equal(await a.stop(), 0);
  const limited = a.lines.filter((l) => l.event === "request.limited");
  // Every line goes to journald or a file: one per refused request would let anyone fill the disk,
  // or make journald drop the agent's own messages (it rate-limits per service).
  assert.ok(limited.length >= 1, "the flood is logged");
  assert.ok(limited.length <= 5, `${limited.length} log lines for ${statuses.get(429)} refused requests`);
  const counted = limited.reduce((n, l) => n + Number(l.count ?? 1), 0);
  assert.equal(counted, statuses.get(429), "the lines still count every refused request");
});
