import assert from "node:assert/strict";
import { appendFileSync, existsSync, readFileSync, realpathSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { type Sshd, type SshRig, sshHost, sshRig } from "../helpers/sshd.js";
import { assertCurrentComplete } from "../helpers/tree.js";

interface Result {
  ok: boolean;
  release: string;
  switchSkewMs: number;
  hosts: { host: string; state: string; serving: string | null }[];
  error?: { message: string };
}

let rig: SshRig;
const servers: Sshd[] = [];
const fx = fixture();
const paths = Array.from({ length: 10 }, (_, i) => path.join(fx.dir, `host ${i + 1}`));
const live = (p: string) =>
  existsSync(path.join(p, "current")) ? path.basename(realpathSync(path.join(p, "current"))) : null;
const hostsFor = (n: number, extra: (i: number) => Record<string, unknown> = () => ({})) =>
  servers.slice(0, n).map((s, i) => sshHost(rig, s, paths[i]!, { name: `web${i + 1}`, ...extra(i) }));

before(async () => {
  rig = sshRig();
  // Separate loopback addresses, one sshd each.
  for (let i = 0; i < 10; i++) servers.push(await rig.start({ address: `127.0.0.${i + 2}` }));
});
after(async () => {
  await rig.stopAll();
  fx.cleanup();
});

test("3 hosts: same release id everywhere, switch skew reported", async () => {
  fx.writeConfig({}, hostsFor(3));
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const result = json<Result>(r);
  assert.deepEqual(paths.slice(0, 3).map(live), [result.release, result.release, result.release]);
  assert.ok(result.switchSkewMs >= 0 && result.switchSkewMs < 5000);
  assert.match(r.stderr, /switch skew [\d.]+ ms/);
  for (const p of paths.slice(0, 3)) assertCurrentComplete(p, ["bootstrap/cache"]);
});

test("10 hosts, prepared 4 at a time", async () => {
  fx.writeConfig({}, hostsFor(10));
  const r = await cutover(["--json", "deploy", "--parallel", "4"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const { release } = json<Result>(r);
  assert.deepEqual(paths.map(live), Array(10).fill(release));
});

test("one host of three fails its switch: the hosts that switched are switched back", async () => {
  fx.writeConfig(
    {
      hooks: {
        before_switch: [
          {
            run: 'rm -rf "$CUTOVER_DEPLOY_PATH/.cutover/tmp" && touch "$CUTOVER_DEPLOY_PATH/.cutover/tmp"',
            roles: ["broken"],
          },
        ],
      },
    },
    hostsFor(3, (i) => (i === 1 ? { roles: ["broken"] } : {})),
  );
  const before = paths.slice(0, 3).map(live);
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  const result = json<Result>(r);
  assert.match(result.error!.message, /web2: switch current failed/);
  assert.deepEqual(paths.slice(0, 3).map(live), before, "every host serves the previous release again");
  const states = Object.fromEntries(result.hosts.map((h) => [h.host, h.state]));
  assert.equal(states.web2, "unchanged");
  assert.ok(
    [states.web1, states.web3].every((s) => s === "switched-back"),
    JSON.stringify(states),
  );
  assert.ok(result.hosts.every((h, i) => h.serving === before[i]));
  for (const p of paths.slice(0, 3)) assert.ok(!existsSync(path.join(p, ".cutover/lock")));
  // repair the sabotaged host for the next tests
  rmSync(path.join(paths[1]!, ".cutover/tmp"));
  fx.writeConfig({}, hostsFor(3));
  const fixed = await cutover(["deploy", "-q"], fx.app);
  assert.equal(fixed.code, 0, fixed.stderr);
});

test("rollback_on after_switch: a failing after_switch hook on one host switches every host back", async () => {
  fx.writeConfig(
    { rollback_on: ["after_switch"], hooks: { after_switch: ['[ "$CUTOVER_HOST" != web3 ] || exit 9'] } },
    hostsFor(3),
  );
  const before = paths.slice(0, 3).map(live);
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  const result = json<Result>(r);
  assert.deepEqual(paths.slice(0, 3).map(live), before);
  assert.ok(result.hosts.every((h) => h.state === "switched-back"));
  const history = readFileSync(path.join(paths[0]!, ".cutover/history.jsonl"), "utf8");
  assert.match(history.trim().split("\n").at(-1)!, /"outcome":"rolled-back".*after_switch hook failed/);
  const rows = json<{ id: string; meta: { state: string } }[]>(await cutover(["--json", "releases"], fx.app));
  assert.equal(rows.find((x) => x.id === result.release)!.meta.state, "failed");
  assert.equal(rows.find((x) => x.id === before[0])!.meta.state, "live");
});

test("roles and once: a migration hook runs on exactly one db host", async () => {
  fx.writeConfig(
    {
      hooks: {
        before_switch: [
          { run: 'touch "$CUTOVER_DEPLOY_PATH/migrated-$CUTOVER_RELEASE"', roles: ["db"], once: true },
        ],
      },
    },
    hostsFor(3, (i) => ({ roles: i === 0 ? ["web"] : ["db", "web"] })),
  );
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const { release } = json<Result>(r);
  const ran = paths.slice(0, 3).map((p) => existsSync(path.join(p, `migrated-${release}`)));
  assert.deepEqual(ran, [false, true, false]);
});

test("rolling mode: batches of one, before_batch and after_batch hooks around each switch", async () => {
  const log = path.join(fx.dir, "batches.log");
  fx.writeConfig(
    {
      rolling: { batch: 1, pause_seconds: 0.2 },
      hooks: {
        before_batch: [
          `echo "before $CUTOVER_BATCH $CUTOVER_HOST $(readlink "$CUTOVER_DEPLOY_PATH/current")" >> '${log}'`,
        ],
        after_batch: [
          `echo "after $CUTOVER_BATCH $CUTOVER_HOST $(readlink "$CUTOVER_DEPLOY_PATH/current")" >> '${log}'`,
        ],
      },
    },
    hostsFor(3),
  );
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const { release } = json<Result>(r);
  const lines = readFileSync(log, "utf8").trim().split("\n");
  assert.deepEqual(
    lines.map((l) => l.split(" ").slice(0, 3).join(" ")),
    ["before 1 web1", "after 1 web1", "before 2 web2", "after 2 web2", "before 3 web3", "after 3 web3"],
  );
  for (const l of lines) {
    if (l.startsWith("before")) assert.ok(!l.endsWith(release), `switched before its batch: ${l}`);
    else assert.ok(l.endsWith(`releases/${release}`), `not switched after its batch: ${l}`);
  }
});

test("rollback over SSH: a rollback target changed on one host (an edit in place of a shared file) stops every host", async () => {
  fx.writeConfig({}, hostsFor(3));
  for (const v of ["v7", "v8"]) {
    fx.file("src/lib.php", `<?php function version() { return '${v}'; }\n`);
    const d = await cutover(["deploy", "-q"], fx.app);
    assert.equal(d.code, 0, d.stderr);
  }
  const before = paths.slice(0, 3).map(live);
  appendFileSync(path.join(paths[1]!, "current/public/index.php"), "echo 'edited on the server';\n");
  const r = await cutover(["--json", "rollback"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  const { error } = json<Result>(r);
  assert.match(
    error?.message ?? "",
    /^web2: release \S+ is not as it was deployed: 1 changed \(public\/index\.php\)$/,
  );
  assert.deepEqual(paths.slice(0, 3).map(live), before, "no host switched");
  const forced = await cutover(["--json", "rollback", "--no-verify"], fx.app);
  assert.equal(forced.code, 0, forced.stderr);
  assert.ok(
    paths
      .slice(0, 3)
      .map(live)
      .every((id) => id !== before[0]),
  );
});
