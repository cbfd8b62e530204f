import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { parseFacts } from "../../src/plan/facts.js";
import { factsProbe } from "../../src/plan/facts-probe.js";

/**
 * The host probe on a real sh: release metadata is read by the shell itself when it is one line,
 * and as before (cut at 64 KiB, NUL bytes dropped) when it is not, so every shape parses as its
 * content says and none is mistaken for another.
 */
const root = mkdtempSync(path.join(os.tmpdir(), "cutover facts 'ü' "));
after(() => rmSync(root, { recursive: true, force: true }));
const metaDir = path.join(root, ".cutover/releases");
mkdirSync(metaDir, { recursive: true });
const meta = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  state: "superseded",
  stage: "prod",
  who: "me",
  revision: null,
  started_at: "2026-11-30T00:00:00Z",
  ...extra,
});
const write = (id: string, text: string | Buffer) => {
  mkdirSync(path.join(root, "releases", id), { recursive: true });
  writeFileSync(path.join(metaDir, `${id}.json`), text);
};

/** The probe run by sh, or by another shell as sh (zsh's read keeps NUL bytes). */
function probe(shell: string[] = ["sh"]) {
  const c = factsProbe(root, []);
  const [program, ...args] = [...shell, ...c.argv.slice(1)];
  return parseFacts(root, execFileSync(program!, args).toString("utf8"), false);
}

const odd = "  a \\ b \\n  ";

test("one line, with or without its newline, with spaces and backslashes: read whole", () => {
  write("20261130T000001Z", `${JSON.stringify(meta("20261130T000001Z", { reason: odd }))}\n`);
  write("20261130T000002Z", JSON.stringify(meta("20261130T000002Z")));
  const facts = probe();
  assert.equal(facts.metas.get("20261130T000001Z")?.reason, odd);
  assert.equal(facts.metas.get("20261130T000002Z")?.state, "superseded");
});

test("pretty-printed over many lines: read whole, as before", () => {
  write("20261130T000003Z", JSON.stringify(meta("20261130T000003Z", { reason: "pretty" }), null, 2));
  assert.equal(probe().metas.get("20261130T000003Z")?.reason, "pretty");
});

test("NUL bytes are dropped; a file over 64 KiB is cut and reported, not read to its end", () => {
  const text = JSON.stringify(meta("20261130T000004Z", { reason: "nul" }));
  write(
    "20261130T000004Z",
    Buffer.concat([Buffer.from(text.slice(0, 10)), Buffer.from([0]), Buffer.from(text.slice(10))]),
  );
  write("20261130T000005Z", JSON.stringify(meta("20261130T000005Z", { reason: "x".repeat(70_000) })));
  const facts = probe();
  assert.equal(facts.metas.get("20261130T000004Z")?.reason, "nul");
  assert.equal(facts.metas.has("20261130T000005Z"), false);
  assert.ok(
    facts.problems.some((p) => p.includes("20261130T000005Z.json")),
    facts.problems.join("\n"),
  );
});

test("two lines, the last without its newline: read whole, as before", () => {
  const [head, ...rest] = JSON.stringify(meta("20261130T000008Z", { reason: "two" })).split(",");
  write("20261130T000008Z", `${head},\n${rest.join(",")}`);
  assert.equal(probe().metas.get("20261130T000008Z")?.reason, "two");
});

test("a shell whose read keeps NUL bytes reads every file as before: a NUL cannot forge a record", () => {
  mkdirSync(path.join(root, "releases/20261130T000009Z"));
  symlinkSync("releases/20261130T000009Z", path.join(root, "current"));
  const forged = [
    "current",
    "link",
    "releases/20261130T000001Z",
    path.join(root, "releases/20261130T000001Z"),
  ];
  write("20261130T000010Z", `${JSON.stringify(meta("20261130T000010Z"))}\0${forged.join("\0")}\n`);
  for (const shell of [["sh"], ["zsh", "--emulate", "sh"]]) {
    const facts = probe(shell);
    assert.equal(
      facts.current.kind === "link" && facts.current.target,
      "releases/20261130T000009Z",
      shell[0],
    );
    assert.equal(facts.metas.has("20261130T000010Z"), false, shell[0]);
    assert.equal(facts.metas.get("20261130T000001Z")?.reason, odd, shell[0]);
  }
});

test("a link or a directory named like metadata is not read", () => {
  symlinkSync(path.join(metaDir, "20261130T000001Z.json"), path.join(metaDir, "20261130T000006Z.json"));
  mkdirSync(path.join(metaDir, "20261130T000007Z.json"));
  const facts = probe();
  assert.equal(facts.metas.has("20261130T000006Z"), false);
  assert.equal(facts.metas.has("20261130T000007Z"), false);
  assert.equal(facts.metas.get("20261130T000001Z")?.reason, odd);
});
