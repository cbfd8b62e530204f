import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { newOwner } from "../../src/engine/lock.js";
import { deploy, loadStage } from "../../src/index.js";
import { cmd } from "../../src/shell/cmd.js";
import { fakeBin } from "../helpers/bin.js";
import { BIN, cutover } from "../helpers/cli.js";
import { wrapExecutors } from "../helpers/executors.js";
import { fixture } from "../helpers/fixture.js";
import { interruptWhen, processesWith, settled } from "../helpers/interrupt.js";
import { marked } from "../helpers/interrupt-cases.js";

/** A signal while a run takes the lock, or waits for it: the run ends at once, changing nothing. */
const fx = fixture();
after(() => fx.cleanup());
const lock = path.join(fx.deployPath, ".cutover/lock");

test("SIGTERM while waiting for another run's lock (--lock-wait): exit 130 at once, that run's lock untouched", async () => {
  assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  // The holder: a deploy whose build hook runs until it is told to stop.
  const marker = "71.2345";
  fx.writeConfig({ hooks: { build: [marked(marker)] } });
  const holder = spawn(process.execPath, [BIN, "deploy", "-q"], { cwd: fx.app, stdio: "ignore" });
  const holderDone = new Promise<number | null>((r) => holder.on("close", r));
  try {
    for (let i = 0; i < 200 && processesWith(marker).length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(lock), "the holder has the lock");
    const owner = readFileSync(path.join(lock, "owner.json"), "utf8");
    fx.writeConfig();
    const waiter = spawn(process.execPath, [BIN, "deploy", "--lock-wait", "60"], {
      cwd: fx.app,
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stderr = "";
    waiter.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const waiterDone = new Promise<number | null>((r) => waiter.on("close", r));
    for (let i = 0; i < 200 && !/waiting|locked by/i.test(stderr); i++)
      await new Promise((r) => setTimeout(r, 50));
    const sentAt = Date.now();
    waiter.kill("SIGTERM");
    const code = await waiterDone;
    assert.equal(code, 130, stderr);
    assert.ok(Date.now() - sentAt < 5000, `exited ${Date.now() - sentAt} ms after the signal\n${stderr}`);
    assert.match(stderr, /interrupted by a signal while taking the lock/);
    assert.equal(
      readFileSync(path.join(lock, "owner.json"), "utf8"),
      owner,
      "the holder's lock is untouched",
    );
    assert.ok(processesWith(marker).length > 0, "the holder's hook still runs");
  } finally {
    holder.kill("SIGTERM");
    await holderDone;
    await settled(marker);
  }
});

test("SIGTERM while the lock's round trip hangs on the host: its process group stopped, the lock given back", async () => {
  fx.writeConfig();
  // df, which the lock's round trip runs after taking the lock, hangs.
  const marker = "72.3456";
  const bin = fakeBin(path.join(fx.dir, "slow-df-bin"), ["df"], { df: `sleep ${marker}\nexec /bin/df "$@"` });
  const r = await interruptWhen(["deploy"], fx.app, marker, "SIGTERM", { PATH: bin });
  assert.ok(r.sent, r.stderr);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /interrupted by a signal while taking the lock/);
  assert.deepEqual(await settled(marker), [], "no process of the step left");
  assert.ok(!existsSync(lock), "the lock it took is given back");
});

test("a lock whose owner file is a fifo: the run says the path is locked, without waiting on the fifo", async () => {
  mkdirSync(lock);
  execFileSync("mkfifo", [path.join(lock, "owner.json")]);
  try {
    const started = Date.now();
    const r = await cutover(["deploy"], fx.app);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /is locked by/);
    assert.ok(Date.now() - started < 20_000, "answered without reading the fifo");
  } finally {
    rmSync(lock, { recursive: true });
  }
});

test("a signal while a lock taken on one host is given back (another host busy): that lock still goes back", async () => {
  const free = path.join(fx.dir, "host free");
  const busy = path.join(fx.dir, "host busy");
  fx.writeConfig({}, [
    { name: "free", path: free },
    { name: "busy", path: busy },
  ]);
  try {
    // Another run (alive: this process) holds busy's lock.
    const theirs = newOwner("someone else", "cutover deploy", new Date());
    mkdirSync(path.join(busy, ".cutover/lock"), { recursive: true });
    writeFileSync(path.join(busy, ".cutover/lock/owner.json"), `${JSON.stringify(theirs)}\n`);
    const controller = new AbortController();
    const isUnlock = (argv: readonly string[]) => argv[2]?.includes('"token') === true;
    const result = await deploy({
      stage: loadStage({ cwd: fx.app }),
      emit: () => undefined,
      command: "cutover deploy (test)",
      lockWaitSeconds: 30,
      signal: controller.signal,
      executors: wrapExecutors({
        run: (real, host, cmds, options) => {
          if (host.name !== "free" || !cmds.some((c) => isUnlock(c.argv))) return real.run(cmds, options);
          // The give-back's round trip takes a while (a slow link); the signal comes meanwhile.
          const running = real.run([cmd(["sleep", "1"]), ...cmds], options);
          setTimeout(() => controller.abort(), 200);
          return running;
        },
      }),
    }).catch((error: unknown) => error as { exitCode?: number });
    assert.equal((result as { exitCode?: number }).exitCode, 130);
    assert.ok(!existsSync(path.join(free, ".cutover/lock")), "the lock this run took is given back");
    assert.match(readFileSync(path.join(busy, ".cutover/lock/owner.json"), "utf8"), new RegExp(theirs.token));
  } finally {
    fx.writeConfig();
  }
});
