import assert from "node:assert/strict";
import { test } from "node:test";
import { writer } from "../../src/cli/output.js";
import { Redactor } from "../../src/report/redact.js";

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
