import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { quote, quoteArgv } from "../../src/shell/quote.js";

const NASTY = [
  "",
  " ",
  "plain",
  "with space",
  "it's",
  "'",
  "''",
  '"dq"',
  "$HOME",
  "`id`",
  "$(id)",
  "a\nb",
  "tab\there",
  "ü ñ 日本",
  "--",
  "-n",
  "*",
  "a;b|c&d",
  "\\",
  "!bang",
  "x=y",
];

/** Runs quoted words through a real /bin/sh and returns the argv it saw. */
function throughShell(words: readonly string[]): string[] {
  const out = execFileSync("sh", ["-c", `printf '%s\\0' ${quoteArgv(words)}`]);
  return out.toString("utf8").split("\0").slice(0, -1);
}

test("quote('') is an empty quoted word", () => {
  assert.equal(quote(""), "''");
});

test("every nasty word round-trips through /bin/sh unchanged", () => {
  assert.deepEqual(throughShell(NASTY), NASTY);
});

test("safe words stay readable", () => {
  assert.equal(quote("/srv/app/releases/20261127T101500Z"), "/srv/app/releases/20261127T101500Z");
  assert.equal(quote("it's"), "'it'\\''s'");
});
