import assert from "node:assert/strict";
import { after, test } from "node:test";
import { cmd, shProgram } from "../../src/shell/cmd.js";
import { LocalExecutor } from "../../src/transport/local.js";

const executor = new LocalExecutor("local", 5);
after(() => executor.close());

test("exit codes, stdout and stderr of each script are kept apart", async () => {
  const ok = await executor.run([shProgram('printf "out"; printf "err" >&2', [])]);
  assert.deepEqual([ok.code, ok.stdout.toString(), ok.stderr], [0, "out", "err"]);
  const failed = await executor.run([cmd(["sh", "-c", "exit 7"]), cmd(["echo", "never"])]);
  assert.equal(failed.code, 7);
  assert.equal(failed.stdout.toString(), "");
});

test("binary output with NUL bytes and no trailing newline survives", async () => {
  const r = await executor.run([cmd(["printf", "a\\0b\\0"])]);
  assert.deepEqual([...r.stdout], [97, 0, 98, 0]);
});

test("a script larger than one exec argument may be (a manifest) runs whole", async () => {
  const big = "x".repeat(400_000);
  const r = await executor.run([
    cmd(["printf", "%s", big], { stdoutTo: "/dev/null" }),
    cmd(["echo", "done"]),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString(), "done\n");
});

test("output of many chunks comes back whole and exact, whatever chunk the end marker falls in", async () => {
  // Sizes around pipe-buffer multiples, so the marker lands at the start, middle and end of chunks.
  for (const size of [65_535, 65_536, 65_537, 1_000_003]) {
    const r = await executor.run([
      shProgram('head -c "$1" /dev/zero | tr "\\0" "y"; printf end', [String(size)]),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, size + 3);
    assert.equal(r.stdout.subarray(size).toString(), "end");
    assert.ok(r.stdout.subarray(0, size).every((b) => b === 121));
  }
});

test("a command that reads stdin cannot eat the session's next script", async () => {
  const r = await executor.run([cmd(["cat"])]);
  assert.equal(r.code, 0);
  const next = await executor.run([cmd(["echo", "still here"])]);
  assert.equal(next.stdout.toString(), "still here\n");
});

test("a script over its time limit is killed with everything it started (exit 124)", async () => {
  const marker = `${100 + Math.random()}`;
  const started = Date.now();
  const r = await executor.run([shProgram('sleep "$1" & sleep "$1"; wait', [marker])]);
  assert.equal(r.code, 124);
  assert.ok(Date.now() - started < 9000);
  const { stdout } = await executor.run([
    shProgram('for p in /proc/[0-9]*; do tr "\\0" " " < "$p/cmdline" 2>/dev/null; echo; done', []),
  ]);
  assert.ok(!stdout.toString().includes(`sleep ${marker}`), "no sleep left behind");
});
