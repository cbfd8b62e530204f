import assert from "node:assert/strict";
import { test } from "node:test";
import { writer } from "../../src/cli/output.js";
import type { Unit } from "../../src/engine/finalize.js";
import { type DeployResult, finish, type HostOutcome } from "../../src/engine/outcome.js";
import type { SwitchOutcome } from "../../src/engine/switch.js";
import { colors, stripAnsi } from "../../src/report/colors.js";
import { Redactor } from "../../src/report/redact.js";
import { progressRenderer, table } from "../../src/report/render.js";
import { deploySummary } from "../../src/report/summary.js";

function capture(isTTY: boolean, env: Record<string, string> = {}) {
  let out = "";
  const write = (t: string) => {
    out += t;
    return true;
  };
  const stream = { isTTY, write } as unknown as NodeJS.WriteStream;
  const redactor = new Redactor();
  redactor.add(["s3cret-value"]);
  return { write: writer(stream, redactor, env), text: () => out };
}

test("text from hosts cannot drive the terminal: control characters and foreign escapes are shown, our colours kept", () => {
  const tty = capture(true);
  tty.write("who: \x1b]0;owned\x07\x1b[2K\x1b[1Aalice \x1b[32mlive\x1b[39m\n");
  assert.equal(tty.text(), "who: \\x1b]0;owned\\x07\\x1b[2K\\x1b[1Aalice \x1b[32mlive\x1b[39m\n");
  const pipe = capture(false);
  pipe.write("a\rb s3cret-value \x1b[32mc\x1b[39m\n");
  assert.equal(pipe.text(), "a\\x0db [REDACTED] c\n");
});

test("text from hosts cannot hide itself: only the colours cutover prints pass, not conceal or black on black", () => {
  const tty = capture(true);
  const ours = [colors.bold, colors.dim, colors.red, colors.green, colors.yellow].map((c) => c(c("x")));
  tty.write(`who: \x1b[8mhidden\x1b[0m \x1b[30;40mdark\x1b[m ${ours.join(" ")}\n`);
  assert.equal(tty.text(), `who: \\x1b[8mhidden\\x1b[0m \\x1b[30;40mdark\\x1b[m ${ours.join(" ")}\n`);
});

test("the deploy summary counts in the singular for one", () => {
  const result = (files: number, hosts: number): DeployResult => ({
    ok: true,
    exitCode: 0,
    release: "r1",
    stage: "prod",
    who: "me",
    previous: null,
    revision: null,
    durationMs: 1200,
    hosts: Array.from({ length: hosts }, (_, i) => ({ host: `web${i}`, state: "live", serving: "r1" })),
    filesTransferred: files,
    bytesTransferred: 5,
    switchSkewMs: 0,
    warnings: [],
  });
  const plain = (r: DeployResult) => stripAnsi(deploySummary("deploy", r));
  assert.match(plain(result(1, 1)), /to 1 host in 1\.20 s\n {2}1 file, 5 B transferred/);
  assert.match(plain(result(2, 3)), /to 3 hosts in 1\.20 s\n {2}2 files, 5 B transferred/);
  const inPlace = (files: number) => ({
    ...result(files, 1),
    hosts: [
      {
        host: "web1",
        state: "live" as const,
        serving: "r1",
        mixedWindow: { startMs: 0, endMs: 1, ms: 1, files },
      },
    ],
  });
  // Live, but a step after the switch failed (exit 4): no green tick over the warnings.
  const degraded = { ...result(1, 1), exitCode: 4 as const, warnings: ["web0: after_switch hook failed"] };
  assert.match(
    plain(degraded),
    /^! deployed r1 to 1 host in 1\.20 s, but a step after the switch failed \(exit 4\)\n/,
  );
  assert.match(
    stripAnsi(deploySummary("rollback", degraded)),
    /^! rolled back 1 host to r1 in 1\.20 s, but /,
  );
  assert.match(plain(inPlace(1)), /for 1 ms \(1 file renamed into place\)/);
  assert.match(plain(inPlace(3)), /for 1 ms \(3 files renamed into place\)/);
});

test("in-place: a host whose upload failed has no window (not measured), never 'no file changed'", () => {
  const unit = (host: string) => ({ t: { host: { name: host } }, run: { inPlace: true } }) as unknown as Unit;
  const hosts: HostOutcome[] = [
    { host: "web1", state: "unchanged", serving: "r0" },
    { host: "web2", state: "live", serving: "r1" },
  ];
  const outcomes: SwitchOutcome[] = [
    { unit: unit("web1"), ok: false, at: 0, error: new Error("rsync exit 23") },
    { unit: unit("web2"), ok: true, at: 0 },
  ];
  const base = {
    release: "r1",
    stage: "prod",
    who: "me",
    started: new Date(),
    previous: "r0",
    revision: null,
  };
  const r = finish(base, hosts, outcomes, new Error("the switch failed"), 1);
  assert.equal(r.hosts[0]!.mixedWindow, undefined);
  assert.equal(r.hosts[1]!.mixedWindow, null, "an upload that changed nothing");
  const text = stripAnsi(deploySummary("deploy", r));
  assert.doesNotMatch(text, /web1: in-place/);
  assert.match(text, /web2: in-place, no file changed/);
});

test("a table cell from a host cannot add rows: its line breaks are shown, not printed", () => {
  const text = table([
    ["release", "who"],
    ["r1", "mallory\nr0     alice\r"],
  ]);
  assert.equal(text.split("\n").length, 2, text);
  assert.match(text, /mallory\\x0ar0 {5}alice\\x0d$/);
});

test("a warning whose message already names its host names it once", () => {
  let text = "";
  const render = progressRenderer({ verbose: false, quiet: false, write: (t) => (text += t) });
  // A switch-back's failed reset: the error message starts with the host, as every step error does.
  render({ type: "warning", host: "web1", message: "web1: cannot reset OPcache of php-fpm at /run/a.sock" });
  render({ type: "warning", host: "web1", message: "web10: a message about another host" });
  assert.deepEqual(stripAnsi(text).split("\n"), [
    "warning: web1: cannot reset OPcache of php-fpm at /run/a.sock",
    "warning: web1: web10: a message about another host",
    "",
  ]);
});
