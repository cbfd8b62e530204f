import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { test } from "node:test";
import { measureSwitch } from "../../src/engine/pool-switch.js";

const NEW = "20260101T000000Z";
const OLD = "20250101T000000Z";
const WINDOW_MS = 400;

/** Probes for WINDOW_MS (the 30 s deadline counted from a start that long ago) and counts the requests. */
async function probeCount(server: net.Server): Promise<{ count: number; result: number | null }> {
  let count = 0;
  server.on("connection", () => {
    count += 1;
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  try {
    const since = performance.now() - (30_000 - WINDOW_MS);
    const result = await measureSwitch(`http://127.0.0.1:${port}/`, NEW, 3, since);
    return { count, result };
  } finally {
    server.close();
  }
}

// A failed probe waits a little before the next: no flat-out loop for 30 s against a balancer that refuses.
test("switch probe: a probe that fails (connection cut) is not retried flat out", async () => {
  const { count, result } = await probeCount(net.createServer((socket) => socket.destroy()));
  assert.equal(result, null, "never confirmed");
  assert.ok(count >= 2, `it kept probing (${count})`);
  assert.ok(count <= WINDOW_MS / 15, `${count} connections in ${WINDOW_MS} ms`);
});

test("switch probe: answers from the old release are not retried flat out either", async () => {
  const server = http.createServer((_, res) => {
    res.setHeader("connection", "close");
    res.end(`release ${OLD}\n`);
  });
  const { count, result } = await probeCount(server);
  assert.equal(result, null);
  assert.ok(count >= 2, `it kept probing (${count})`);
  assert.ok(count <= WINDOW_MS / 15, `${count} requests in ${WINDOW_MS} ms`);
});

test("switch probe: answers from the new release confirm the switch (negative control)", async () => {
  const server = http.createServer((_, res) => res.end(`release ${NEW}\n`));
  const { result } = await probeCount(server);
  assert.equal(typeof result, "number");
});
