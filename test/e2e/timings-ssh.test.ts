import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { type Sshd, type SshRig, sshHost, sshRig } from "../helpers/sshd.js";

/** `deploy --timings` over SSH to several hosts: each host's steps, and the many-host table. */
interface Result {
  ok: boolean;
  timings: {
    total_ms: number;
    phases: { phase: string; ms: number }[];
    steps: { host: string; step: string; ms: number; ok: boolean }[];
  };
}

let rig: SshRig;
const servers: Sshd[] = [];
const fx = fixture();
const names = ["web1", "web2", "web3"];

before(async () => {
  rig = sshRig();
  for (let i = 0; i < names.length; i++) servers.push(await rig.start({ address: `127.0.0.${i + 2}` }));
  fx.writeConfig(
    {},
    servers.map((s, i) => sshHost(rig, s, path.join(fx.dir, `host ${i + 1}`), { name: names[i] })),
  );
});
after(async () => {
  await rig.stopAll();
  fx.cleanup();
});

test("3 SSH hosts: every host's steps in --json, from connecting to the switch", async () => {
  const r = await cutover(["--json", "deploy", "--timings"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const { timings } = json<Result>(r);
  for (const host of names) {
    const steps = timings.steps.filter((s) => s.host === host).map((s) => s.step);
    for (const step of [
      "connect, lock and read host",
      "upload files",
      "record manifest and checksum",
      "mark ready",
      "switch current",
    ])
      assert.ok(steps.includes(step), `${host}: ${step} in ${steps.join(", ")}`);
  }
  assert.ok(
    timings.phases.some((p) => p.phase.startsWith("prepare release") && p.phase.endsWith("on 3 hosts")),
  );
  assert.ok(timings.steps.every((s) => s.ok && s.ms >= 0));
});

test("3 SSH hosts: the text table has median, max and the slowest host per step, and each host's total", async () => {
  fx.file("src/lib.php", "<?php function version() { return 'timed over ssh'; }\n");
  const r = await cutover(["deploy", "-q", "--timings", "--parallel", "1"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ {2}step +hosts +median ms +max ms +slowest host$/m);
  assert.match(r.stdout, /^ {2}upload files +3 +\d+ +\d+ +web[123]$/m);
  for (const host of names) assert.match(r.stdout, new RegExp(`^  ${host} +\\d+ +.+ \\(\\d+ ms\\)$`, "m"));
});
