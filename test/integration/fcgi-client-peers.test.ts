import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { FCGI_CLIENT_PHP } from "../../src/integrations/php/fcgi-client.js";

/**
 * The PHP FastCGI client against a peer on the pool's address that is no well-behaved php-fpm:
 * it answers with an endless stream of records, or trickles one. The client must stop at a bounded
 * size, or when its time is up, with a transport error (exit 2), not grow until the host runs out
 * of memory (php-cli has no memory_limit by default; the test sets one so a failure cannot hurt this
 * machine) or hold the deploy until command_timeout.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), "cutover-fcgi-"));
const client = path.join(dir, "client.php");
let server: net.Server;
let port = 0;
let trickler: net.Server;
let tricklePort = 0;

function record(type: number, id: number, content: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt8(1, 0);
  head.writeUInt8(type, 1);
  head.writeUInt16BE(id, 2);
  head.writeUInt16BE(content.length, 4);
  return Buffer.concat([head, content]);
}

before(async () => {
  writeFileSync(client, FCGI_CLIENT_PHP);
  server = net.createServer((socket) => {
    socket.on("error", () => undefined);
    socket.once("data", () => {
      const stdout = record(6, 1, Buffer.alloc(65535, "a"));
      const pump = () => {
        while (!socket.destroyed && socket.write(stdout));
      };
      socket.on("drain", pump);
      pump();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as net.AddressInfo).port;
  // One byte of a record every 100 ms, for ever: no read ever waits long enough to time out.
  trickler = net.createServer((socket) => {
    socket.on("error", () => undefined);
    const bytes = record(6, 1, Buffer.alloc(65535, "a"));
    let at = 0;
    const timer = setInterval(() => {
      socket.write(bytes.subarray(at, at + 1));
      at = (at + 1) % bytes.length;
    }, 100);
    socket.on("close", () => clearInterval(timer));
  });
  await new Promise<void>((r) => trickler.listen(0, "127.0.0.1", r));
  tricklePort = (trickler.address() as net.AddressInfo).port;
});
after(() => {
  server.close();
  trickler.close();
  rmSync(dir, { recursive: true, force: true });
});

function runClient(
  peer = port,
  seconds = "120",
  killAfterMs = 60_000,
): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      "php",
      [
        "-d",
        "memory_limit=512M",
        client,
        `127.0.0.1:${peer}`,
        "/nonexistent/runtime.php",
        "action=status",
        seconds,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      if (stderr.length < 4096) stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - started });
    });
  });
}

test("a FastCGI peer that streams an endless answer: the client stops at a bounded size (exit 2)", async () => {
  const { code, stderr, ms } = await runClient();
  assert.equal(code, 2, `exit ${code} after ${ms} ms: ${stderr.slice(0, 300)}`);
  assert.match(stderr, /FastCGI answer from 127\.0\.0\.1:\d+ is larger than/);
});

test("a FastCGI peer that trickles its answer: the client gives up when its time is up (exit 2)", async () => {
  const { code, stderr, ms } = await runClient(tricklePort, "2", 20_000);
  assert.equal(code, 2, `exit ${code} after ${ms} ms: ${stderr.slice(0, 300)}`);
  assert.ok(ms < 10_000, `took ${ms} ms for a limit of 2 s`);
  assert.match(stderr, /no complete FastCGI answer from 127\.0\.0\.1:\d+ within 2 s/);
});
