import assert from "node:assert/strict";
import { test } from "node:test";
import type { EngineEvent } from "../../src/engine/events.js";
import { Timings, timingsText } from "../../src/report/timings.js";

test("timings: phases last until the next one; steps per host; many hosts get median, max and slowest host", () => {
  let clock = 100;
  const seen: EngineEvent[] = [];
  const t = new Timings(
    (e) => seen.push(e),
    () => clock,
  );
  const step = (host: string, name: string, ms: number) =>
    t.emit({ type: "step", host, step: name, status: "ok", ms });
  t.emit({ type: "timing", host: "a", step: "connect, lock and read host", ms: 30 });
  clock = 150;
  t.emit({ type: "phase", phase: "prepare" });
  t.emit({ type: "step", host: "a", step: "upload files", status: "start" });
  step("a", "upload files", 300);
  step("b", "upload files", 100);
  step("c", "upload files", 200);
  step("c", "upload files", 5); // a step that runs twice on a host counts once, summed
  clock = 500;
  t.emit({ type: "phase", phase: "switch" });
  clock = 520;
  const r = t.report();
  assert.equal(seen.length, 8, "every event still reaches the renderer");
  assert.deepEqual(r.phases, [
    { phase: "start: node, cutover, config", ms: 100 },
    { phase: "connect, lock and read hosts", ms: 50 },
    { phase: "prepare", ms: 350 },
    { phase: "switch", ms: 20 },
  ]);
  assert.equal(r.total_ms, 520);
  const text = timingsText(r);
  assert.match(text, /^ {2}upload files +3 +205 +300 +a$/m);
  assert.match(text, /^ {2}c +205 +upload files \(205 ms\)$/m);
});

test("timings: one host gets one column; a run without steps shows only phases", () => {
  const one = new Timings(
    () => {},
    () => 10,
  );
  one.emit({ type: "step", host: "web", step: "switch current", status: "failed", ms: 7 });
  const text = timingsText(one.report());
  assert.match(text, /^ {2}switch current +7$/m);
  assert.doesNotMatch(text, /slowest/);
  assert.doesNotMatch(
    timingsText(
      new Timings(
        () => {},
        () => 1,
      ).report(),
    ),
    /step/,
  );
});
