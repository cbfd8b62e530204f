import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";

/**
 * A webhook receiver that sends its headers and drops the connection before the body: the deploy
 * still ends with its own outcome and exit code (here a failed health check: exit 1, switched
 * back), with the notification as a warning, never a silent exit 0.
 */
test("a webhook receiver that cuts its answer short: a failed deploy still exits 1 and says why", async () => {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-length": "1000" });
    res.write("partial");
    setTimeout(() => res.socket?.destroy(), 50);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const fx = fixture("cut webhook");
  try {
    fx.writeConfig({
      notify: [{ url: `http://127.0.0.1:${port}/hook/T0KEN`, timeout: 2 }],
      health_check: { url: "http://127.0.0.1:1/", retries: 1, timeout: 1 },
    });
    const r = await cutover(["deploy"], fx.app);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /health check failed/);
    assert.match(r.stderr, /notification rolled_back to .* failed: HTTP 200: the answer was cut off/);
    assert.doesNotMatch(r.stdout + r.stderr, /T0KEN/);
  } finally {
    server.closeAllConnections();
    server.close();
    fx.cleanup();
  }
});
