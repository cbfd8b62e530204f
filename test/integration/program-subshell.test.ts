import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { test } from "node:test";
import { type Cmd, cmd, killGroupScript, renderScript, shProgram } from "../../src/shell/cmd.js";

/**
 * A fixed program runs in a subshell of the script's own shell, not in a new `sh -c`: it must see
 * exactly what `sh -c PROGRAM sh ARGS` would (its arguments, -e off, a cd or variable of its own),
 * and fail the script as that would. Run by the real /bin/sh, as a host runs a step's script.
 */
function run(cmds: readonly Cmd[]): { code: number; out: string } {
  const r = spawnSync("sh", ["-c", renderScript(cmds)], { cwd: "/tmp", encoding: "utf8" });
  return { code: r.status ?? -1, out: r.stdout };
}

const NASTY = [
  "",
  " ",
  "it's",
  "'",
  '"dq"',
  "$HOME",
  "`id`",
  "$(id)",
  "a\nb",
  "tab\there",
  "ü 日本",
  "--",
  "-e",
  "*",
  "\\",
  "x=y",
  ")",
];

test("a program's arguments arrive exactly, however they read to a shell", () => {
  const r = run([shProgram(`printf '%s\\0' "$#" "$@"`, NASTY)]);
  assert.equal(r.code, 0);
  assert.deepEqual(r.out.split("\0").slice(0, -1), [String(NASTY.length), ...NASTY]);
  assert.equal(run([shProgram(`printf '%s' "$#"`, [])]).out, "0");
});

test("a program starts with -e off, as under sh -c, and its exit status fails the script", () => {
  assert.deepEqual(run([shProgram("false\necho still", []), cmd(["echo", "next"])]), {
    code: 0,
    out: "still\nnext\n",
  });
  assert.deepEqual(run([shProgram("set -e\nfalse\necho never", []), cmd(["echo", "next"])]), {
    code: 1,
    out: "",
  });
  assert.deepEqual(run([shProgram('exit "$1"', ["3"]), cmd(["echo", "next"])]), { code: 3, out: "" });
});

test("a program's cd, variables and options stay its own", () => {
  const r = run([
    shProgram('cd /\nmine=1\nset -C\nprintf "%s " "$(pwd)"', []),
    shProgram('printf "%s %s " "$(pwd)" "${mine:-unset}"\necho x > /dev/null && echo clobber-ok', []),
  ]);
  assert.deepEqual(r, { code: 0, out: "/ /tmp unset clobber-ok\n" });
});

test("case patterns and here-documents read as they would under sh -c", () => {
  const program = `case "$1" in
  a) cat <<'EOF'
) not the end
EOF
  ;;
  *) echo other ;;
esac`;
  assert.deepEqual(run([shProgram(program, ["a"]), shProgram(program, ["b"])]), {
    code: 0,
    out: ") not the end\nother\n",
  });
});

test("a program that may fail, or has an environment of its own, keeps its own sh: -e holds inside it", () => {
  const strict = "set -e\nfalse\necho never";
  const mayFail = shProgram(strict, [], { mayFail: true });
  assert.deepEqual(run([mayFail, cmd(["echo", "next"])]), { code: 0, out: "next\n" });
  assert.match(renderScript([mayFail]), /\nsh -c /);
  const withEnv = shProgram('printf "%s" "$X"', [], { env: { X: "it's" } });
  assert.deepEqual(run([withEnv]), { code: 0, out: "it's" });
  assert.match(renderScript([shProgram("true", [])]), /^set -e\n\(set \+e\n/);
});

/** A process group of its own running `sleep`, and whether it still runs. */
function sleepingGroup(): { pgid: number; alive: () => boolean } {
  const child = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
  child.unref();
  const pgid = child.pid!;
  return {
    pgid,
    alive: () => {
      try {
        process.kill(-pgid, 0);
        return true;
      } catch {
        return false;
      }
    },
  };
}

test("the interrupt's kill is one `sh -c` command: over SSH the login shell runs it, whatever shell that is", async () => {
  assert.match(killGroupScript(123), /^sh -c '/);
  // fish (installed by scripts/setup.sh) reads a subshell's text as a syntax error.
  for (const shell of ["sh", "fish"]) {
    const group = sleepingGroup();
    const ran = spawnSync(shell, ["-c", killGroupScript(group.pgid)], { timeout: 10_000 });
    assert.equal(ran.error, undefined, `${shell} could not run`);
    for (let i = 0; i < 50 && group.alive(); i += 1) await new Promise((r) => setTimeout(r, 20));
    assert.equal(group.alive(), false, `${shell} left group ${group.pgid} running`);
  }
});
