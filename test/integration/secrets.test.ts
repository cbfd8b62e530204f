import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";

/**
 * Webhook URLs are bearer tokens and URLs may carry passwords: neither may show in warnings,
 * --json, --dry-run --json, release metadata, history or the webhooks themselves.
 */
const fx = fixture();
const HOOK_TOKEN = "T0KEN-in-the-path-9f8e7d";
const PASSWORD = "pa55-w0rd-in-url";
const QUERY_TOKEN = "query-t0ken-5e6f";
let server: http.Server;
let port = 0;
const bodies: string[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      bodies.push(body);
      // The webhook receiver fails, so cutover warns about it; the health URL answers 500.
      res.statusCode = 500;
      res.end("no");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server.close();
  fx.cleanup();
});

const everything = () => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(readFileSync(p, "utf8"));
    }
  };
  walk(path.join(fx.deployPath, ".cutover"));
  return files.join("\n");
};

test("webhook URLs and URL passwords never appear in output, JSON, dry runs, records or webhooks", async () => {
  assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  fx.writeConfig({
    notify: [{ url: `http://127.0.0.1:${port}/hooks/${HOOK_TOKEN}`, timeout: 1 }],
    health_check: {
      url: `http://admin:${PASSWORD}@127.0.0.1:${port}/health?token=${QUERY_TOKEN}`,
      retries: 1,
      timeout: 2,
    },
  });
  const dry = await cutover(["--json", "--dry-run", "deploy"], fx.app);
  const run = await cutover(["--json", "-v", "deploy"], fx.app);
  assert.equal(run.code, 1, "the health check fails");
  assert.match(run.stderr, /health check failed .*http:\/\/\*\*\*@127\.0\.0\.1:\d+\/health\?token=\*\*\*/);
  assert.match(run.stderr, /notification .* to http:\/\/127\.0\.0\.1:\d+\/\[REDACTED\] failed/);
  for (const [where, text] of [
    ["dry run", dry.stdout + dry.stderr],
    ["deploy output", run.stdout + run.stderr],
    ["release metadata and history", everything()],
    ["webhook bodies", bodies.join("\n")],
  ]) {
    assert.ok(!text!.includes(HOOK_TOKEN), `${where} shows the webhook URL`);
    assert.ok(!text!.includes(PASSWORD), `${where} shows the password`);
    assert.ok(!text!.includes(QUERY_TOKEN), `${where} shows the URL's query token`);
  }
  assert.ok(bodies.length >= 2, "the webhooks were sent");
});
