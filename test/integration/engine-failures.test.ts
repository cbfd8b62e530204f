import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, test } from "node:test";
import type { ResolvedHost, ResolvedStage } from "../../src/config/resolve.js";
import type { Emit } from "../../src/engine/events.js";
import type { ExecutorFactory } from "../../src/engine/targets.js";
import { deploy, loadStage, rollback } from "../../src/index.js";
import type { Cmd } from "../../src/shell/cmd.js";
import { TransportError } from "../../src/transport/executor.js";
import { cutover } from "../helpers/cli.js";
import { wrapExecutors } from "../helpers/executors.js";
import { fixture } from "../helpers/fixture.js";
import { assertCurrentComplete } from "../helpers/tree.js";

/**
 * Engine failure paths through the API with injected executors: real local targets, with one
 * host's switch, switch back or connection made to fail exactly where the test wants.
 */
const fx = fixture();
after(() => fx.cleanup());
const paths = ["a", "b", "c"].map((n) => path.join(fx.dir, `host ${n}`));
const hosts = paths.map((p, i) => ({ name: `web${i + 1}`, path: p }));
const live = (p: string) => path.basename(realpathSync(path.join(p, "current")));
const quiet: Emit = () => undefined;
const stage = (): ResolvedStage => loadStage({ cwd: fx.app });

type Failure = (host: ResolvedHost, cmds: readonly Cmd[]) => "fail" | "lose" | undefined;
const isSwitch = (cmds: readonly Cmd[]) => cmds.some((c) => c.argv[2]?.includes("date +%s%N"));
const isSwitchBack = (cmds: readonly Cmd[]) =>
  cmds.some((c) => c.argv[2]?.includes("current is not back to"));

/** Real executors, except where `failure` says a script fails (exit 1) or the connection is lost. */
function failing(failure: Failure): ExecutorFactory {
  return wrapExecutors({
    run: async (real, host, cmds, options) => {
      const what = failure(host, cmds);
      if (what === "lose") throw new TransportError(host.name, "the shell session ended (injected)");
      if (what === "fail") return { code: 1, stdout: Buffer.alloc(0), stderr: "injected failure" };
      return real.run(cmds, options);
    },
  });
}

const command = "cutover deploy (test)";

test("setup: three hosts with two good releases", async () => {
  fx.writeConfig({}, hosts);
  for (let i = 0; i < 2; i++) assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
});

test("the switch fails on one host: the others are switched back, the release is failed, current unchanged", async () => {
  const before = paths.map(live);
  const result = await deploy({
    stage: stage(),
    emit: quiet,
    command,
    executors: failing((h, cmds) => (h.name === "web2" && isSwitch(cmds) ? "fail" : undefined)),
  });
  assert.equal(result.exitCode, 1);
  assert.deepEqual(paths.map(live), before);
  assert.deepEqual(
    result.hosts.map((h) => h.state),
    ["switched-back", "unchanged", "switched-back"],
  );
  for (const p of paths) assertCurrentComplete(p, ["bootstrap/cache"]);
  const meta = JSON.parse(
    readFileSync(path.join(paths[0]!, ".cutover/releases", `${result.release}.json`), "utf8"),
  );
  assert.equal(meta.state, "failed");
});

test("a switch back that fails is reported: that host still serves the new release, and says so", async () => {
  const result = await deploy({
    stage: stage(),
    emit: quiet,
    command,
    executors: failing((h, cmds) => {
      if (h.name === "web3" && isSwitch(cmds)) return "fail";
      if (h.name === "web1" && isSwitchBack(cmds)) return "fail";
      return undefined;
    }),
  });
  assert.equal(result.exitCode, 1);
  assert.equal(result.hosts[0]!.serving, result.release, "web1 could not go back and says so");
  assert.equal(live(paths[0]!), result.release);
  assert.ok(existsSync(path.join(paths[0]!, "releases", result.release)), "the release it serves is kept");
  const meta = JSON.parse(
    readFileSync(path.join(paths[0]!, ".cutover/releases", `${result.release}.json`), "utf8"),
  );
  assert.equal(meta.state, "live", "its records say what it serves");
  const last = readFileSync(path.join(paths[0]!, ".cutover/history.jsonl"), "utf8")
    .trim()
    .split("\n")
    .at(-1)!;
  assert.match(last, /"outcome":"failed".*could not switch this host back/);
  assert.notEqual(live(paths[1]!), result.release);
  // A rollback puts web1 back in line with the others.
  const rb = await rollback({ stage: { ...stage(), hosts: [stage().hosts[0]!] }, emit: quiet, command });
  assert.equal(rb.exitCode, 0, rb.error?.message);
});

test("a connection lost during prepare on one host: nobody switches", async () => {
  const before = paths.map(live);
  const result = await deploy({
    stage: stage(),
    emit: quiet,
    command,
    executors: failing((h, cmds) =>
      h.name === "web2" && cmds.some((c) => c.argv.includes("sync")) ? "lose" : undefined,
    ),
  });
  assert.equal(result.exitCode, 1);
  assert.match(result.error!.message, /web2/);
  assert.deepEqual(paths.map(live), before);
});

test("rollback: a switch that fails on one host puts the others back where they were", async () => {
  const before = paths.map(live);
  const result = await rollback({
    stage: stage(),
    emit: quiet,
    command,
    executors: failing((h, cmds) => (h.name === "web3" && isSwitch(cmds) ? "fail" : undefined)),
  });
  assert.equal(result.exitCode, 1);
  assert.deepEqual(paths.map(live), before);
  const last = readFileSync(path.join(paths[0]!, ".cutover/history.jsonl"), "utf8")
    .trim()
    .split("\n")
    .at(-1)!;
  assert.match(last, /"event":"rollback","outcome":"failed"/);
});

test("a deploy that throws (lock held) stops its probe and still sends the outcome webhook", async () => {
  const events: string[] = [];
  let probed = 0;
  const server = http.createServer((req, res) => {
    if (req.method === "POST") {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        events.push((JSON.parse(body) as { event: string }).event);
        res.end();
      });
      return;
    }
    probed += 1;
    res.end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const lock = path.join(paths[0]!, ".cutover/lock");
  mkdirSync(lock);
  writeFileSync(path.join(lock, "owner.json"), JSON.stringify({ token: "x", pid: 1, machine: "elsewhere" }));
  try {
    fx.writeConfig({ notify: [{ url: `http://127.0.0.1:${port}/hook`, timeout: 3 }] }, hosts);
    const started = Date.now();
    await assert.rejects(
      deploy({
        stage: stage(),
        emit: quiet,
        command,
        probe: { url: `http://127.0.0.1:${port}/`, concurrency: 2 },
      }),
      /locked/,
    );
    const stoppedAt = probed;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(probed, stoppedAt, "the probe stopped with the deploy");
    assert.ok(Date.now() - started < 5000);
    assert.deepEqual(events.sort(), ["failed", "started"]);
  } finally {
    rmSync(lock, { recursive: true });
    server.close();
    fx.writeConfig({}, hosts);
  }
});
