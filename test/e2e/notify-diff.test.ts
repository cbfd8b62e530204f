import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { chmodSync, rmSync, symlinkSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { freePort } from "../helpers/ports.js";

const fx = fixture("notify");
after(() => fx.cleanup());

interface Received {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

function receiver(): Promise<{ url: string; received: Received[]; close: () => void }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.end("ok");
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`,
        received,
        close: () => server.close(),
      }),
    ),
  );
}

test("webhooks get the documented events with a valid signature, in JSON and Slack format", async () => {
  const json_ = await receiver();
  const slack = await receiver();
  try {
    fx.writeConfig({
      notify: [
        { url: json_.url, secret: "s3cret" },
        { url: slack.url, format: "slack", events: ["succeeded"] },
      ],
    });
    const r = await cutover(["--json", "deploy"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /s3cret/, "the secret is never printed");
    const events = json_.received.map((x) => JSON.parse(x.body) as Record<string, unknown>);
    assert.deepEqual(events.map((e) => e.event).sort(), ["started", "succeeded"]);
    const done = events.find((e) => e.event === "succeeded")!;
    assert.equal(done.release, json<{ release: string }>(r).release);
    for (const key of ["stage", "release", "previous", "revision", "who", "duration_ms", "hosts", "reason"])
      assert.ok(key in done, key);
    for (const x of json_.received) {
      const expected = `sha256=${createHmac("sha256", "s3cret").update(x.body).digest("hex")}`;
      assert.equal(x.headers["x-cutover-signature-256"], expected);
    }
    assert.equal(slack.received.length, 1);
    assert.match((JSON.parse(slack.received[0]!.body) as { text: string }).text, /succeeded/);
  } finally {
    json_.close();
    slack.close();
  }
});

test("a receiver that is down, or one that hangs, does not fail the deploy and costs at most its timeout", async () => {
  fx.writeConfig();
  let started = Date.now();
  assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  const baseline = Date.now() - started;
  const hang = net.createServer(() => undefined);
  await new Promise<void>((r) => hang.listen(0, "127.0.0.1", r));
  const down = await freePort();
  try {
    fx.writeConfig({
      notify: [
        { url: `http://127.0.0.1:${down}/`, timeout: 1 },
        { url: `http://127.0.0.1:${(hang.address() as net.AddressInfo).port}/`, timeout: 1 },
      ],
    });
    started = Date.now();
    const r = await cutover(["deploy"], fx.app);
    const took = Date.now() - started;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: notification succeeded to .* failed/);
    // started and the outcome each wait at most 1 s for the hanging receiver.
    assert.ok(took < baseline + 2 * 1000 + 800, `took ${took} ms, baseline ${baseline} ms`);
  } finally {
    hang.close();
  }
});

test("diff lists exactly the added, modified, deleted, mode-changed and symlink-changed files", async () => {
  fx.writeConfig();
  fx.file("keep.txt", "same");
  fx.file("change.txt", "before");
  fx.file("gone.txt", "bye");
  fx.file("script.sh", "#!/bin/sh\n");
  rmSync(path.join(fx.app, "link"), { force: true });
  symlinkSync("keep.txt", path.join(fx.app, "link"));
  assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  fx.file("change.txt", "after");
  fx.file("new/added.txt", "hello");
  rmSync(path.join(fx.app, "gone.txt"));
  chmodSync(path.join(fx.app, "script.sh"), 0o755);
  rmSync(path.join(fx.app, "link"));
  symlinkSync("change.txt", path.join(fx.app, "link"));
  assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  const [d] = json<
    { added: string[]; modified: string[]; removed: string[]; mode: string[]; symlink: string[] }[]
  >(await cutover(["--json", "diff"], fx.app));
  assert.deepEqual(d!.added, ["new", "new/added.txt"]);
  assert.deepEqual(d!.modified, ["change.txt"]);
  assert.deepEqual(d!.removed, ["gone.txt"]);
  assert.deepEqual(d!.mode, ["script.sh"]);
  assert.deepEqual(d!.symlink, ["link"]);
  const text = await cutover(["diff"], fx.app);
  assert.match(text.stdout, /removed +gone\.txt/);
});

test("a failing health_check command switches back and marks the release bad; rollback --to it needs --force", async () => {
  fx.writeConfig();
  assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  const before = json<{ id: string; meta: { state: string } }[]>(
    await cutover(["--json", "releases"], fx.app),
  ).find((r) => r.meta.state === "live")!.id;
  fx.writeConfig({ health_check: { command: 'test "$CUTOVER_RELEASE" = never', retries: 2, interval: 0.1 } });
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  const bad = json<{ release: string; hosts: { serving: string }[] }>(r);
  assert.equal(bad.hosts[0]!.serving, before);
  fx.writeConfig();
  const refused = await cutover(["rollback", "--to", bad.release], fx.app);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /marked bad \(.*health check failed/);
  const forced = await cutover(["--json", "rollback", "--to", bad.release, "--force"], fx.app);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(json<{ release: string }>(forced).release, bad.release);
});
