import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { after, before, test } from "node:test";
import { Secret } from "../../src/config/types.js";
import { exposedFiles } from "../../src/engine/doctor-http.js";
import { checkHealth } from "../../src/engine/health.js";
import type { LockedTarget } from "../../src/engine/lock.js";
import { measureSwitch } from "../../src/engine/pool-switch.js";
import { type Notification, notify } from "../../src/notify/webhooks.js";
import { Probe } from "../../src/probe/probe.js";

/**
 * HTTP peers that misbehave: a receiver or app that drops the connection halfway through a body,
 * sends an endless body, or trickles it. Every client must give up within its own limit.
 */
let server: http.Server;
let port = 0;

before(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    const mode = (req.url ?? "/").split("/")[1];
    if (mode === "cut") {
      // Headers, part of the promised body, then the connection goes away.
      res.writeHead(200, { "content-length": "1000" });
      res.write("partial");
      setTimeout(() => res.socket?.destroy(), 50);
    } else if (mode === "endless") {
      res.writeHead(200, { "content-type": "text/plain" });
      const chunk = Buffer.alloc(64 * 1024, "a");
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
      };
      res.on("drain", pump);
      pump();
    } else if (mode === "trickle") {
      res.writeHead(200, { "content-type": "text/plain" });
      const timer = setInterval(() => res.write("x"), 200);
      res.on("close", () => clearInterval(timer));
    } else if (mode === "angles") {
      // An error page of 64 KiB of '<' and no '>'.
      res.writeHead(500, { "content-type": "text/html" });
      res.end("<".repeat(65536));
    } else if (mode === "https-only") {
      // A site that sends every plain-HTTP request to its https:// address.
      res.writeHead(301, { location: `https://127.0.0.1:1${(req.url ?? "/").slice("/https-only".length)}` });
      res.end();
    } else if (mode === "deny-dotfiles") {
      // Dotfiles sent elsewhere, everything else answered: the site protects them.
      res.writeHead((req.url ?? "").includes("/.") ? 301 : 404, { location: "/" });
      res.end();
    } else {
      res.end("ok");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const note: Notification = {
  event: "succeeded",
  stage: "production",
  release: "20260101T000000Z",
  previous: null,
  revision: null,
  who: "test",
  duration_ms: 1,
  hosts: [],
  reason: null,
};

/** Settles with the value, or with "hung" after `ms`. */
function within<T>(work: Promise<T>, ms: number): Promise<T | "hung"> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<"hung">((r) => {
      timer = setTimeout(() => r("hung"), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

for (const mode of ["cut", "endless", "trickle"]) {
  test(`a webhook receiver whose answer is ${mode} costs at most the webhook's timeout, as a warning`, async () => {
    const hook = {
      url: new Secret(`http://127.0.0.1:${port}/${mode}/T0KEN`, `http://127.0.0.1:${port}/[REDACTED]`),
      format: "json" as const,
      events: ["succeeded" as const],
      timeoutSeconds: 1,
    };
    const started = Date.now();
    const warnings = await within(notify([hook], note), 5000);
    assert.notEqual(warnings, "hung", "notify never settled");
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    assert.equal((warnings as string[]).length, 1);
    assert.match((warnings as string[])[0]!, /notification succeeded to .* failed/);
    assert.doesNotMatch((warnings as string[])[0]!, /T0KEN/);
  });
}

for (const mode of ["cut", "endless", "trickle"]) {
  test(`the health check gives up on each attempt at its timeout when the answer is ${mode}`, async () => {
    const check = {
      url: `http://127.0.0.1:${port}/${mode}`,
      expectStatus: 200,
      expectHeader: {},
      timeoutSeconds: 1,
      retries: 2,
      intervalSeconds: 0,
    };
    // The URL check reads only the host's name.
    const target = { host: { name: "web1" } } as unknown as LockedTarget;
    const started = Date.now();
    const failed = await within(
      checkHealth(target, check, "20260101T000000Z", () => undefined).then(
        () => "passed",
        (e: Error) => e.message,
      ),
      15_000,
    );
    assert.notEqual(failed, "hung", "the health check never settled");
    assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms for 2 attempts of 1 s`);
    assert.match(failed, /^web1: health check failed after 2 attempts: http:\/\/127\.0\.0\.1:\d+\//);
  });
}

test("a webhook receiver that answers 200 gets one POST and no warning", async () => {
  const hook = {
    url: new Secret(`http://127.0.0.1:${port}/ok`),
    format: "slack" as const,
    events: ["succeeded" as const],
    timeoutSeconds: 2,
  };
  assert.deepEqual(await notify([hook], note), []);
});

for (const mode of ["endless", "trickle"]) {
  test(`doctor's exposure check gives up on a web server whose answer is ${mode}`, async () => {
    const started = Date.now();
    const report = await within(exposedFiles(`http://127.0.0.1:${port}/${mode}/`, new Map()), 20_000);
    assert.notEqual(report, "hung", "the exposure check never returned");
    assert.ok(Date.now() - started < 12_000, `took ${Date.now() - started} ms`);
  });
}

for (const mode of ["endless", "trickle"]) {
  test(`the load probe stops within its request timeout when the app's answer is ${mode}`, async () => {
    const probe = new Probe({ url: `http://127.0.0.1:${port}/${mode}`, concurrency: 2, timeoutMs: 1000 });
    probe.start();
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const samples = await within(probe.stop(), 10_000);
    assert.notEqual(samples, "hung", "the probe never stopped");
    assert.ok(Date.now() - started < 3000, `stopping took ${Date.now() - started} ms`);
    for (const s of samples as { error: string | null }[]) assert.equal(s.error, "timeout");
  });
}

for (const mode of ["endless", "trickle"]) {
  test(`blue/green's switch measurement ends at its deadline when the balancer's answer is ${mode}`, async () => {
    // Measuring since 29 s ago: one second of its 30 s is left.
    const started = Date.now();
    const ms = await within(
      measureSwitch(`http://127.0.0.1:${port}/${mode}`, "20260101T000000Z", 3, performance.now() - 29_000),
      15_000,
    );
    assert.equal(ms, null);
    assert.ok(Date.now() - started < 7000, `took ${Date.now() - started} ms`);
  });
}

test("doctor's exposure check says it did not run when every answer is a redirect (http to https)", async () => {
  const report = await exposedFiles(`http://127.0.0.1:${port}/https-only/`, new Map());
  assert.deepEqual(report.exposed, []);
  assert.match(
    report.notAsked ?? "",
    /every answer .* was a redirect \(301 to https:\/\/127\.0\.0\.1:1\/\.env\)/,
  );
  // A site that redirects only its dotfiles answered the check: nothing to say.
  assert.equal(
    (await exposedFiles(`http://127.0.0.1:${port}/deny-dotfiles/`, new Map())).notAsked,
    undefined,
  );
});

test("doctor's exposure check names URLs without their password or query values", async () => {
  const closed = await exposedFiles("http://user:pw9@127.0.0.1:1/?k=t0k", new Map());
  assert.match(closed.notAsked ?? "", /no answer from http:\/\/\*\*\*@127\.0\.0\.1:1\/\?k=\*\*\*/);
  const moved = await exposedFiles(`http://user:pw9@127.0.0.1:${port}/https-only/?k=t0k`, new Map());
  assert.match(moved.notAsked ?? "", /redirect/);
  for (const text of [closed.notAsked, moved.notAsked]) assert.doesNotMatch(text ?? "", /pw9|t0k/);
});

test("the load probe against an address that refuses connections does not spin (nor hoard samples)", async () => {
  const closed = await new Promise<number>((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port: free } = s.address() as AddressInfo;
      s.close(() => resolve(free));
    });
  });
  const probe = new Probe({ url: `http://127.0.0.1:${closed}/`, concurrency: 2, timeoutMs: 1000 });
  const cpu = process.cpuUsage();
  probe.start();
  await new Promise((r) => setTimeout(r, 1000));
  const samples = await probe.stop();
  const used = process.cpuUsage(cpu);
  assert.ok(samples.length > 0 && samples.every((s) => s.error === "refused"));
  // Paced like blue/green's switch probe: a refused connection fails at once.
  assert.ok(samples.length <= 150, `${samples.length} samples in 1 s from 2 clients`);
  assert.ok((used.user + used.system) / 1000 < 500, `${(used.user + used.system) / 1000} ms of CPU in 1 s`);
});

test("the load probe reads an error page of '<' without blocking the event loop", async () => {
  const probe = new Probe({ url: `http://127.0.0.1:${port}/angles`, concurrency: 1, timeoutMs: 5000 });
  const started = Date.now();
  probe.start();
  await new Promise((r) => setTimeout(r, 500));
  const samples = await probe.stop();
  // The deploy runs on the same event loop: a sample must not cost seconds of CPU.
  assert.ok(Date.now() - started < 1500, `500 ms of probing took ${Date.now() - started} ms`);
  assert.ok(samples.length >= 5, `${samples.length} samples`);
  assert.equal(samples[0]!.status, 500);
});
