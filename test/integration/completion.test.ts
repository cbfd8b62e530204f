import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { BIN } from "../helpers/cli.js";

// `cutover` on the PATH, as the completion script calls it for stage names; a config with two stages.
const dir = mkdtempSync(path.join(os.tmpdir(), "cutover completion "));
const bin = path.join(dir, "bin");
spawnSync("mkdir", [bin]);
writeFileSync(path.join(bin, "cutover"), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
chmodSync(path.join(bin, "cutover"), 0o755);
writeFileSync(
  path.join(dir, "cutover.yaml"),
  "components: { api: {}, admin: {} }\nstages:\n  production:\n    hosts: [{path: /a}]\n  staging:\n    hosts: [{path: /b}]\n",
);
writeFileSync(path.join(dir, "other.yaml"), "stages:\n  canary:\n    hosts: [{path: /a}]\n");
after(() => rmSync(dir, { recursive: true, force: true }));

/** The line being completed, the cursor in its last word ("" = after a space). */
const CASES: [string[], string[]][] = [
  [["cutover", "de"], ["deploy"]],
  [
    ["cutover", "r"],
    ["rollback", "releases"],
  ],
  [["cutover", "--js"], ["--json"]],
  [["cutover", "deploy", "--h"], ["--hosts"]],
  [
    ["cutover", "rollback", "--"],
    [
      "--to",
      "--force",
      "--no-verify",
      "--restore-shared",
      "--timings",
      "--hosts",
      "--lock-wait",
      "--config",
      "--dry-run",
      "--json",
      "--verbose",
      "--quiet",
      "--component",
      "--version",
    ],
  ],
  [
    ["cutover", "deploy", "--component", ""],
    ["api", "admin"],
  ],
  [["cutover", "-c", "other.yaml", "releases", "--component", ""], []],
  [
    ["cutover", "deploy", ""],
    ["production", "staging"],
  ],
  [["cutover", "-n", "deploy", "st"], ["staging"]],
  [["cutover", "-c", "other.yaml", "releases", ""], ["canary"]],
  [["cutover", "deploy", "--hosts", ""], []],
  [["cutover", "deploy", "production", ""], []],
  [
    ["cutover", "server-config", ""],
    ["nginx", "apache"],
  ],
  [
    ["cutover", "snapshot", ""],
    ["create", "list", "restore", "prune"],
  ],
  [
    ["cutover", "snapshot", "create", ""],
    ["production", "staging"],
  ],
  [["cutover", "snapshot", "create", "--lock"], ["--lock-wait"]],
  [
    ["cutover", "server-config", "nginx", ""],
    ["production", "staging"],
  ],
  [
    ["cutover", "completion", ""],
    ["bash", "zsh"],
  ],
];

/** Runs the shell's completion for every case, as the shell itself calls the completion function. */
function complete(shell: "bash" | "zsh"): string[][] {
  const call =
    shell === "bash"
      ? 'COMPREPLY=(); _cutover; printf "%s\\n" "${COMPREPLY[@]}"'
      : 'compgen -F _cutover -- "$cur"';
  const script = CASES.map(([words]) => {
    const quoted = words.map((w) => `'${w}'`).join(" ");
    return `COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; cur='${words.at(-1)}'; ${call}; echo ---`;
  }).join("\n");
  const setup =
    shell === "bash"
      ? 'eval "$(cutover completion bash)"; complete -p cutover | grep -q -- "-F _cutover cutover"'
      : 'autoload -U compinit && compinit -u; eval "$(cutover completion zsh)"';
  const r = spawnSync(
    shell,
    shell === "bash" ? ["--norc", "-c", `${setup}\n${script}`] : ["-f", "-c", `${setup}\n${script}`],
    {
      cwd: dir,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .split("---\n")
    .slice(0, CASES.length)
    .map((block) => block.split("\n").filter(Boolean));
}

for (const shell of ["bash", "zsh"] as const) {
  test(`${shell} completes commands, options, choices and the config's stage names`, () => {
    const replies = complete(shell);
    CASES.forEach(([words, expected], i) => {
      // zsh filters by the typed prefix itself, after the function answers.
      const got = replies[i]!.filter((w) => w.startsWith(words.at(-1)!));
      assert.deepEqual(got.sort(), [...expected].sort(), `${shell}: ${words.join(" ")}|`);
    });
  });
}
