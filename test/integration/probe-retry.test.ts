import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { Probe } from "../../src/probe/probe.js";

/**
 * A server that, like nginx reloading, closes a kept-alive connection when its second request
 * arrives, without answering: each connection serves exactly one request.
 */
async function oneRequestPerConnection(): Promise<{ url: string; close: () => Promise<void> }> {
  const served = new WeakSet<object>();
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    if (served.has(req.socket)) {
      req.socket.destroy();
      return;
    }
    served.add(req.socket);
    res.setHeader("X-Release", "20261130T000000Z");
    res.end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function load(url: string, retryClosedKeepAlive: boolean) {
  const probe = new Probe({ url, concurrency: 4, maxDurationMs: 10_000, retryClosedKeepAlive });
  probe.start();
  await new Promise((r) => setTimeout(r, 400));
  return probe.stop();
}

test("a request whose kept-alive connection is closed unanswered is sent again once, on a new connection", async () => {
  const server = await oneRequestPerConnection();
  try {
    const retrying = await load(server.url, true);
    assert.ok(retrying.length > 20, `only ${retrying.length} requests`);
    assert.deepEqual(
      retrying.filter((s) => s.status !== 200).slice(0, 3),
      [],
      "every request answered (the retry did not meet another closed kept-alive connection)",
    );
    assert.ok(
      retrying.some((s) => s.retried),
      "requests were sent again",
    );
    // Negative control: without retries the same server fails requests.
    const plain = await load(server.url, false);
    assert.ok(
      plain.some((s) => s.error === "reset" && !s.retried),
      "closed connections fail requests",
    );
  } finally {
    await server.close();
  }
});
