import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import type { NginxBalancer } from "../../src/config/resolve.js";
import { nginxSwap } from "../../src/plan/balancer.js";
import { LocalExecutor } from "../../src/transport/local.js";

// The file's path reaches the swap program as an argument; the commands are shell text the test writes.
const dir = mkdtempSync(path.join(os.tmpdir(), "nginx swap ü "));
const executor = new LocalExecutor("local", 30);
after(async () => {
  await executor.close();
  rmSync(dir, { recursive: true, force: true });
});

function balancer(testCommand: string): NginxBalancer {
  return {
    type: "nginx",
    upstreamFile: path.join(dir, "app servers.conf"),
    testCommand,
    reloadCommand: `touch '${path.join(dir, "reloaded")}'`,
    servers: new Map([["web1", "10.0.0.1:80"]]),
    drainTimeoutSeconds: 1,
    maxUnavailable: 1,
    switchConfirm: 1,
  };
}

test("nginx upstream swap: a failing config test puts the old file back and reloads nothing", async () => {
  const b = balancer("false");
  writeFileSync(b.upstreamFile, "server 10.0.0.1:80;\n");
  const r = await executor.run([nginxSwap(b, "server 10.0.0.1:80 down;\n")]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /nginx config test failed: the upstream file was put back/);
  assert.equal(readFileSync(b.upstreamFile, "utf8"), "server 10.0.0.1:80;\n");
  assert.equal(existsSync(path.join(dir, "reloaded")), false, "no reload");
  assert.deepEqual(readdirSync(dir), ["app servers.conf"], "no temp or backup file left");
});

test("nginx upstream swap: a passing test leaves the new file and reloads once", async () => {
  const b = balancer(`grep -q down '${path.join(dir, "app servers.conf")}'`);
  writeFileSync(b.upstreamFile, "server 10.0.0.1:80;\n");
  const r = await executor.run([nginxSwap(b, "server 10.0.0.1:80 down;\n")]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    readFileSync(b.upstreamFile, "utf8"),
    "server 10.0.0.1:80 down;\n",
    "the test saw the new file",
  );
  assert.ok(existsSync(path.join(dir, "reloaded")));
  assert.deepEqual(readdirSync(dir).sort(), ["app servers.conf", "reloaded"]);
});
