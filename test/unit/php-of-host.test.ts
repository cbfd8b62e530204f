import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { stringify } from "yaml";
import { parseConfigText } from "../../src/config/load.js";
import { resolveStage } from "../../src/config/resolve.js";
import { phpOfHost } from "../../src/engine/php-runtime.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "php of host "));
after(() => rmSync(dir, { recursive: true, force: true }));

function stageWith(reloadCommand: string, name: string) {
  const file = path.join(dir, "cutover.yaml");
  const text = stringify({
    php: { reload_command: reloadCommand, fpm: [{ socket: "/run/php/{name}.sock" }] },
    stages: { prod: { hosts: [{ name, path: "/srv/app" }] } },
  });
  return resolveStage(parseConfigText(text, file), file, "prod");
}

// The reload command runs through `sh -c`: the host's name must arrive as one word, never as shell text.
test("php.reload_command: a host name with shell metacharacters runs no injected command", () => {
  const planted = path.join(dir, "injected");
  const out = path.join(dir, "named");
  for (const name of [
    `web1; touch '${planted}'`,
    `$(touch '${planted}')`,
    `\`touch '${planted}'\``,
    "it's",
    "a$'b",
    "a$&b",
    "a$`b",
  ]) {
    const stage = stageWith(`printf '%s' {name} > '${out}'`, name);
    const { php } = phpOfHost(stage, stage.hosts[0]!);
    execFileSync("sh", ["-c", php.reloadCommand!]);
    assert.equal(existsSync(planted), false, `no command ran for ${name}`);
    assert.equal(readFileSync(out, "utf8"), name, "the command saw the name as one word");
    // The socket is a path, not shell text: the name goes in as is.
    assert.equal(php.pools[0]!.address, `/run/php/${name}.sock`);
  }
});
