import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/config/load.js";
import { CutoverError } from "../../src/errors.js";
import { redact } from "../../src/report/redact.js";
import { quote } from "../../src/shell/quote.js";

const HOSTS = "stages:\n  prod:\n    hosts:\n      - path: /srv/app\n";

function load(text: string, env: Record<string, string> = {}) {
  return parseConfig(text, "cutover.yaml", env);
}

function failure(text: string, env: Record<string, string> = {}): CutoverError {
  try {
    load(text, env);
  } catch (error) {
    assert.ok(error instanceof CutoverError);
    return error;
  }
  assert.fail("expected a config error");
}

test("${VAR} is replaced in values; the values taken are reported as secrets", () => {
  const { config, secrets } = load(
    `${HOSTS}        host: \${DEPLOY_HOST}\nhooks:\n  build: ["curl -H 'Authorization: \${API_TOKEN}' https://x/\${API_TOKEN}"]\n`,
    { DEPLOY_HOST: "web1.example.com", API_TOKEN: "tok-123456" },
  );
  assert.deepEqual(config.stages.prod!.hosts[0], { path: "/srv/app", host: "web1.example.com" });
  assert.deepEqual(config.hooks?.build, ["curl -H 'Authorization: tok-123456' https://x/tok-123456"]);
  assert.deepEqual([...secrets].sort(), ["tok-123456", "web1.example.com"]);
});

test("an unquoted whole reference is read as YAML reads the value; a quoted one stays a string", () => {
  const text = `keep_releases: \${KEEP}\nssh:\n  accept_new_host_keys: \${TOFU}\n${HOSTS}        port: \${PORT}\n`;
  const { config } = load(text, { KEEP: "3", TOFU: "true", PORT: "2222" });
  assert.equal(config.keep_releases, 3);
  assert.equal(config.ssh?.accept_new_host_keys, true);
  assert.equal((config.stages.prod!.hosts[0] as { port: number }).port, 2222);
  assert.equal(
    failure(`keep_releases: "\${KEEP}"\n${HOSTS}`, { KEEP: "3" }).message,
    "cutover.yaml:1: keep_releases: expected number, got string",
  );
  const { config: text2 } = load(`source: "\${DIR}"\n${HOSTS}`, { DIR: "12" });
  assert.equal(text2.source, "12");
});

test("${VAR:-default} takes the default when VAR is unset or empty; $${ is a literal ${", () => {
  const text = `keep_releases: \${KEEP:-4}\nsource: \${SRC:-app}\nexclude: ["$\${NOT_ME}", "a$\${B}c"]\n${HOSTS}`;
  assert.equal(load(text).config.keep_releases, 4);
  assert.equal(load(text, { SRC: "" }).config.source, "app");
  assert.equal(load(text, { SRC: "web" }).config.source, "web");
  assert.deepEqual(load(text).config.exclude, ["${NOT_ME}", "a${B}c"]);
});

test("hook shell forms are left for the shell: $VAR, ${CUTOVER_…}, ${1}, ${VAR#x}; keys are never replaced", () => {
  const hook = 'echo "$HOME ${CUTOVER_RELEASE} ${CUTOVER_PREVIOUS_RELEASE:-none} ${1} ${PATH#/}"';
  const { config, secrets } = load(`hooks:\n  after_switch: [${JSON.stringify(hook)}]\n${HOSTS}`, {
    HOME: "/root",
    CUTOVER_RELEASE: "x",
  });
  assert.deepEqual(config.hooks?.after_switch, [hook]);
  assert.deepEqual(secrets, []);
  assert.match(failure(`\${KEY}: 1\n${HOSTS}`, { KEY: "keep_releases" }).message, /\$\{KEY\}: unknown key/);
});

test("an unset variable is an error naming file:line, the key and the variable, with the fixes", () => {
  const e = failure(`source: .\n${HOSTS}        host: \${DEPLOY_HOST}\n        user: \${DEPLOY_USER}\n`);
  assert.equal(
    e.message,
    "cutover.yaml:6: stages.prod.hosts[0].host: environment variable DEPLOY_HOST is not set",
  );
  assert.deepEqual(e.details.detail, [
    "cutover.yaml:7: stages.prod.hosts[0].user: environment variable DEPLOY_USER is not set",
  ]);
  assert.match(e.details.fix!, /export DEPLOY_HOST .*\$\{DEPLOY_HOST:-value\}.*\$\$\{/);
  assert.equal(e.exitCode, 2);
  const block = failure(
    `hooks:\n  build:\n    - |\n      make\n      make install TOKEN=\${TOKEN}\n${HOSTS}`,
  );
  assert.equal(block.message, "cutover.yaml:5: hooks.build[0]: environment variable TOKEN is not set");
});

test("errors never repeat a value from the environment", () => {
  const e = failure(`upload:\n  compare: \${MODE}\n${HOSTS}`, { MODE: "s3cr3t-mode" });
  assert.match(e.message, /^cutover\.yaml:2: upload\.compare: /);
  assert.doesNotMatch(`${e.message}${e.details.detail?.join("")}`, /s3cr3t-mode/);
  assert.match(e.message, /\[REDACTED\]/);
  const host = failure(`stages:\n  prod:\n    hosts: ["\${TARGET}"]\n`, { TARGET: "deploy@secret-host" });
  assert.equal(
    host.message,
    "cutover.yaml:3: stages.prod.hosts[0]: a host is [user@]host[:port]:/absolute/path, or an object with path",
  );
});

test("redact() masks secrets as written, JSON-escaped and shell-quoted; short values are left alone", () => {
  const secret = `it's "x"`;
  const quoted = quote(`Authorization: ${secret}`);
  assert.equal(redact(`a ${secret} b`, [secret]), "a [REDACTED] b");
  assert.equal(redact(JSON.stringify({ v: `k=${secret}` }), [secret]), '{"v":"k=[REDACTED]"}');
  assert.equal(redact(quoted, [secret]), "'Authorization: [REDACTED]'");
  assert.equal(redact(JSON.stringify([quoted]), [secret]), `["'Authorization: [REDACTED]'"]`);
  assert.equal(redact("port 22", ["22"]), "port 22");
});
