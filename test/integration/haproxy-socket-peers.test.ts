import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { HaproxyBalancer } from "../../src/config/types.js";
import { haproxyAsk } from "../../src/plan/balancer.js";

/**
 * What answers on balancer.socket may be no healthy HAProxy: one that accepts and never answers,
 * or answers without end. Asking it must fail within a bounded time and size, not hold a drained
 * batch out of service until command_timeout (an hour by default) or fill memory.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), "cutover-haproxy-"));
const servers: net.Server[] = [];

function listen(file: string, onConnection: (s: net.Socket) => void): Promise<void> {
  const server = net.createServer((s) => {
    s.on("error", () => undefined);
    onConnection(s);
  });
  servers.push(server);
  return new Promise((r) => server.listen(file, r));
}

before(async () => {
  await listen(path.join(dir, "silent.sock"), () => undefined);
  await listen(path.join(dir, "endless.sock"), (s) => {
    s.once("data", () => {
      const line = Buffer.from(`${"web,app-1,0,0,1,".repeat(100)}\n`);
      const pump = () => {
        while (!s.destroyed && s.write(line));
      };
      s.on("drain", pump);
      pump();
    });
  });
});
after(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

const balancer = (socket: string) =>
  ({ type: "haproxy", socket, backend: "web" }) as unknown as HaproxyBalancer;

function ask(socket: string): Promise<{ code: number | null; stderr: string; ms: number; killed: boolean }> {
  const { argv } = haproxyAsk(balancer(path.join(dir, socket)), ["show stat"]);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let killed = false;
    child.stderr.on("data", (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString();
    });
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, 45_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - started, killed });
    });
  });
}

test("a balancer socket that accepts and never answers fails the ask within 30 s, in one line", async () => {
  const r = await ask("silent.sock");
  assert.equal(r.killed, false, "still waiting after 45 s");
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /HAProxy did not answer on .*silent\.sock within \d+ s/);
});

test("a balancer socket that answers without end fails the ask at a bounded size", async () => {
  const r = await ask("endless.sock");
  assert.equal(r.killed, false, "still reading after 45 s");
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /HAProxy answered more than \d+ MiB on .*endless\.sock/);
});
