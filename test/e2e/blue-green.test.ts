import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import type { Sample } from "../../src/probe/probe.js";
import { probeClock } from "../../src/probe/probe.js";
import { failures, live, retried, rig, underLoad } from "../helpers/balanced-rig.js";
import { cutover, json } from "../helpers/cli.js";

interface Switch {
  from: string;
  to: string;
  release: string;
  switchMs: number | null;
}

/** A command's window: responses to requests sent after it returned must name only `release`. */
interface Mark {
  readonly release: string;
  readonly started: number;
  readonly returned: number;
}

/**
 * Mixed: a response naming two releases, or (the switch being complete when the command returns,
 * since it probes until only the new pool answers) a response to a request sent after a command
 * returned, and before the next began, that names any other release than the one it switched to.
 */
function mixed(samples: readonly Sample[], marks: readonly Mark[]): Sample[] {
  return [
    ...samples.filter((s) => s.releases.length > 1),
    ...marks.flatMap((m, i) => {
      const next = marks[i + 1]?.started ?? Number.POSITIVE_INFINITY;
      return samples.filter(
        (s) => s.sentAt > m.returned && s.doneAt < next && s.releases.some((r) => r !== m.release),
      );
    }),
  ];
}

for (const kind of ["haproxy", "nginx"] as const) {
  test(`${kind} blue/green: deploy to the idle pool, switch in one step, switch-back; 0 failed, 0 mixed; a pool failing its health check never serves`, async () => {
    // 127.0.0.2 is blue (in service), 127.0.0.3 green (out): two slots, each its own php-fpm and nginx.
    const r = await rig(kind, { secondOut: true });
    try {
      const [blue, green] = r.backends;
      const port = blue!.address.split(":")[1];
      r.settings(
        { ...r.balancer, probe_url: `${r.url}/`, switch_confirm: 20 },
        {
          strategy: "blue-green",
          pools: { blue: [blue!.name], green: [green!.name] },
          // php-fpm reloads (process_control_timeout 0) are safe on the idle pool: it gets no request.
          rolling: undefined,
          health_check: { url: `http://{name}:${port}/health.php`, expect_body: "ok" },
        },
      );
      const run = async (args: string[]): Promise<Mark & { out: Switch; stderr: string }> => {
        const started = probeClock();
        const d = await cutover(["--json", ...args], r.fx.app);
        assert.equal(d.code, 0, d.stderr);
        const body = json<Switch & { switch?: Switch }>(d);
        const out = body.switch ?? body;
        return { release: out.release, started, returned: probeClock(), out, stderr: d.stderr };
      };
      // Both pools get a release before the load starts (blue serves nothing yet).
      const toGreen = await run(["deploy"]);
      assert.deepEqual([toGreen.out.from, toGreen.out.to], ["blue", "green"]);
      const toBlue = await run(["deploy"]);
      assert.deepEqual([toBlue.out.from, toBlue.out.to], ["green", "blue"]);
      assert.deepEqual(r.backends.map(live), [toBlue.release, toGreen.release]);

      const dry = await cutover(["deploy", "--dry-run"], r.fx.app);
      assert.equal(dry.code, 0, dry.stderr);
      assert.ok(dry.stdout.includes(green!.deployPath), "--dry-run plans the idle pool");
      assert.ok(!dry.stdout.includes(blue!.deployPath), "--dry-run leaves the live pool alone");

      const rollback = await cutover(["rollback"], r.fx.app);
      assert.equal(rollback.code, 2, rollback.stderr);
      assert.match(rollback.stderr, /is blue-green.*\n.*cutover switch-back/);
      const doctor = await cutover(["--json", "doctor"], r.fx.app);
      assert.ok(
        !doctor.stdout.includes('"check": "balancer"'),
        `doctor accepts one pool out: ${doctor.stdout}`,
      );

      const marks: Mark[] = [];
      const samples = await underLoad(
        r.url,
        async () => {
          const deployed = await run(["deploy"]);
          marks.push(deployed);
          assert.deepEqual([deployed.out.from, deployed.out.to], ["blue", "green"]);
          assert.match(deployed.stderr, /deploy to the idle pool green/);
          assert.equal(typeof deployed.out.switchMs, "number", "switch time measured");
          assert.ok(
            deployed.out.switchMs! >= 0 && deployed.out.switchMs! < 5000,
            `${deployed.out.switchMs} ms`,
          );
          assert.equal(live(blue!), toBlue.release, "the old pool was not touched: warm for switch-back");
          const states = r.serverStates();
          const dry = await cutover(["--dry-run", "switch-back"], r.fx.app);
          assert.equal(dry.code, 0, dry.stderr);
          assert.match(dry.stdout, /would switch the balancer from green to blue \(\d{8}T\d{6}Z\)/);
          assert.deepEqual(r.serverStates(), states, "a dry run of switch-back changes nothing");
          const back = await run(["switch-back"]);
          marks.push(back);
          assert.deepEqual([back.out.from, back.out.to, back.release], ["green", "blue", toBlue.release]);
          assert.equal(typeof back.out.switchMs, "number");
          assert.doesNotMatch(back.stderr, /upload/, "switch-back uploads nothing");
          process.stderr.write(
            `# ${kind}: switch ${deployed.out.switchMs} ms, switch-back ${back.out.switchMs} ms\n`,
          );
        },
        kind === "nginx",
      );
      assert.ok(samples.length > 200, `only ${samples.length} requests`);
      assert.deepEqual(failures(samples).slice(0, 3), [], "failed requests");
      assert.ok(retried(samples) < samples.length / 50, `${retried(samples)} requests sent again: few`);
      assert.deepEqual(mixed(samples, marks).slice(0, 3), [], "mixed responses");
      assert.ok(
        samples.some((s) => s.releases.includes(marks[0]!.release)),
        "the new pool served requests",
      );
      const history = readFileSync(path.join(blue!.deployPath, ".cutover", "history.jsonl"), "utf8");
      assert.match(history, /"event":"switch".*"event":"switch-back"/s, "switches are in the history");
      const shown = await cutover(["--json", "history"], r.fx.app);
      assert.equal(shown.code, 0, shown.stderr);
      const events = json<{ event: string }[]>(shown).map((e) => e.event);
      assert.ok(events.includes("switch") && events.includes("switch-back"), events.join(", "));

      // A green release that fails its health check (checked directly) is never put in service.
      r.fx.file("public/health.php", "<?php http_response_code(500); echo 'broken';\n");
      const before = r.serverStates();
      let bad = "";
      const during = await underLoad(
        r.url,
        async () => {
          const d = await cutover(["--json", "deploy"], r.fx.app);
          assert.equal(d.code, 1, d.stderr);
          bad = json<{ release: string }>(d).release;
          assert.match(d.stderr, /health check failed/);
          assert.match(d.stderr, /the balancer still serves blue/);
        },
        kind === "nginx",
      );
      assert.deepEqual(r.serverStates(), before, "the balancer was not touched");
      assert.deepEqual(during.filter((s) => s.releases.includes(bad)).slice(0, 3), [], "never served");
      assert.deepEqual(failures(during).slice(0, 3), [], "failed requests");
      assert.equal(live(blue!), toBlue.release);
    } finally {
      await r.stop();
    }
  });
}
