import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { parseConfigText } from "../../src/config/load.js";
import { pickStage, resolveStage } from "../../src/config/resolve.js";
import { closest } from "../../src/config/suggest.js";
import { CutoverError } from "../../src/errors.js";
import { scratchDir } from "../helpers/scratch.js";

function configError(text: string): CutoverError {
  try {
    parseConfigText(text, "cutover.yaml");
  } catch (error) {
    assert.ok(error instanceof CutoverError);
    return error;
  }
  assert.fail("expected a config error");
}

test("bad YAML names the file and line", () => {
  const e = configError("source: .\nstages:\n  prod:\n    hosts: [\n");
  assert.match(e.message, /^cutover\.yaml:\d+: invalid YAML/);
  assert.equal(e.exitCode, 2);
});

test("unknown key gets a suggestion with its line", () => {
  const e = configError("keep_relases: 3\nstages:\n  p:\n    hosts:\n      - path: /srv/a\n");
  assert.equal(e.message, 'cutover.yaml:1: keep_relases: unknown key; did you mean "keep_releases"?');
});

test("unknown nested key is named by its full path", () => {
  const e = configError("stages:\n  prod:\n    hosts:\n      - paht: /srv/a\n");
  assert.match(e.message, /stages\.prod\.hosts\[0\]\.paht: unknown key; did you mean "path"\?/);
  assert.match(e.message, /^cutover\.yaml:4:/);
});

test("wrong types are named with expected and received", () => {
  const e = configError("keep_releases: five\nstages:\n  p:\n    hosts:\n      - path: /srv/a\n");
  assert.equal(e.message, "cutover.yaml:1: keep_releases: expected number, got string");
});

test("relative deploy paths and escaping shared paths are refused", () => {
  assert.match(
    configError("stages:\n  p:\n    hosts:\n      - path: srv/a\n").message,
    /hosts\[0\]\.path: must be an absolute path/,
  );
  assert.match(
    configError("shared_dirs: ['../etc']\nstages:\n  p:\n    hosts: [{path: /a}]\n").message,
    /shared_dirs\[0\]: must not contain "\.\."/,
  );
});

test("YAML octal-looking modes are read as octal digits", () => {
  const c = parseConfigText(
    "writable_dirs: [{path: cache, mode: 0775}]\nstages:\n  p:\n    hosts: [{path: /a}]\n",
    "f",
  );
  assert.deepEqual(c.writable_dirs, [{ path: "cache", mode: "775" }]);
  assert.match(
    configError("writable_dirs: [{path: c, mode: 999}]\nstages:\n  p:\n    hosts: [{path: /a}]\n").message,
    /octal chmod mode/,
  );
});

test("missing source directory is an error naming it", () => {
  const dir = scratchDir("cfg ");
  const file = path.join(dir, "cutover.yaml");
  const config = parseConfigText("source: nowhere\nstages:\n  p:\n    hosts: [{path: /a}]\n", file);
  assert.throws(() => resolveStage(config, file, "p"), /source: .*nowhere is not a directory/);
});

test("stage settings override top-level ones; paths with spaces, quotes and unicode resolve", () => {
  const dir = scratchDir("cfg ");
  mkdirSync(path.join(dir, "my 'app' ü"));
  const file = path.join(dir, "cutover.yaml");
  const text = `source: "my 'app' ü"\nkeep_releases: 5\nstages:\n  prod:\n    keep_releases: 2\n    hosts:\n      - path: "/srv/it's ü"\n  staging:\n    hosts: [{path: /srv/s}]\n`;
  const config = parseConfigText(text, file);
  const prod = resolveStage(config, file, "prod");
  assert.equal(prod.keepReleases, 2);
  assert.equal(prod.source, path.join(dir, "my 'app' ü"));
  assert.equal(prod.hosts[0]!.path, "/srv/it's ü");
  assert.equal(resolveStage(config, file, "staging").keepReleases, 5);
});

test("stage selection: the only stage by default, otherwise the name is required", () => {
  const one = parseConfigText("stages:\n  prod:\n    hosts: [{path: /a}]\n", "f");
  assert.equal(pickStage(one, "f", undefined), "prod");
  const two = parseConfigText("stages:\n  a:\n    hosts: [{path: /a}]\n  b:\n    hosts: [{path: /b}]\n", "f");
  assert.throws(() => pickStage(two, "f", undefined), /defines 2 stages; name one: a, b/);
  assert.throws(() => pickStage(two, "f", "c"), /no stage "c"/);
});

test("closest() suggests only plausible typos", () => {
  assert.equal(closest("shared_dir", ["shared_dirs", "shared_files"]), "shared_dirs");
  assert.equal(closest("zzzzzz", ["shared_dirs"]), undefined);
});

test("identity_file: ~/ is the user's home (as in ssh_config); other relative paths start at the config file", () => {
  const dir = scratchDir("cfg ");
  const file = path.join(dir, "cutover.yaml");
  const text =
    "stages:\n  p:\n    hosts:\n      - { host: a, path: /srv/a, identity_file: ~/.ssh/id_deploy }\n      - { host: b, path: /srv/b, identity_file: keys/id }\n";
  const stage = resolveStage(parseConfigText(text, file), file, "p");
  assert.equal(stage.hosts[0]!.ssh!.identityFile, path.join(os.homedir(), ".ssh/id_deploy"));
  assert.equal(stage.hosts[1]!.ssh!.identityFile, path.join(dir, "keys/id"));
});

test("webhook URLs and passwords in URLs are secrets: JSON and text show neither", async () => {
  const { stageSecrets, redactUrl } = await import("../../src/config/secrets.js");
  const dir = scratchDir("cfg ");
  const file = path.join(dir, "cutover.yaml");
  const hook = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
  const text = `notify: [{ url: "${hook}", format: slack }]\nhealth_check: { url: "http://user:hunter22@web/health" }\nstages:\n  p:\n    hosts: [{ path: /srv/a }]\n`;
  const stage = resolveStage(parseConfigText(text, file), file, "p");
  const shown = JSON.stringify(stage);
  assert.doesNotMatch(shown, /XXXXSECRET/);
  assert.match(`${stage.notify[0]!.url}`, /^https:\/\/hooks\.slack\.com\/\[REDACTED\]$/);
  assert.equal(stage.notify[0]!.url.reveal(), hook);
  assert.equal(redactUrl("http://user:hunter22@web/health"), "http://***@web/health");
  assert.equal(redactUrl("https://TOKEN@web/h?token=abc&x=1"), "https://***@web/h?token=***&x=***");
  const secrets = stageSecrets(stage);
  assert.ok(secrets.includes(hook) && secrets.includes("hunter22"));
});

test("the config file never ships: excluded (anchored, wildcards escaped) when it lies inside the source", () => {
  const dir = scratchDir("cfg ");
  mkdirSync(path.join(dir, "app"));
  const text = (source: string, exclude = "") =>
    `source: ${source}\n${exclude}stages:\n  p:\n    hosts: [{path: /a}]\n`;
  const inside = path.join(dir, "deploy[1].yaml");
  assert.deepEqual(resolveStage(parseConfigText(text("."), inside), inside, "p").exclude, [
    ".git",
    ".cutover",
    "/deploy\\[1\\].yaml",
  ]);
  const own = parseConfigText(text(".", "exclude: [node_modules]\n"), inside);
  assert.deepEqual(resolveStage(own, inside, "p").exclude, ["node_modules", "/deploy\\[1\\].yaml"]);
  const outside = path.join(dir, "cutover.yaml");
  assert.deepEqual(resolveStage(parseConfigText(text("app"), outside), outside, "p").exclude, [
    ".git",
    ".cutover",
  ]);
});

test("ssh.persist is whole seconds up to an hour, named with its line when it is not", () => {
  const persist = (v: string) => `ssh: {persist: ${v}}\nstages:\n  p:\n    hosts: [{host: a, path: /a}]\n`;
  assert.equal(parseConfigText(persist("60"), "f").ssh?.persist, 60);
  for (const bad of ["-1", "1.5", "7200", "'60'"])
    assert.match(configError(persist(bad)).message, /^cutover\.yaml:1: ssh\.persist: /, bad);
});

test("two hosts of a stage with one deploy path on one machine are refused: they would take each other's lock", () => {
  const dir = scratchDir("cfg ");
  const file = path.join(dir, "cutover.yaml");
  const refused = (hosts: string) => {
    try {
      resolveStage(parseConfigText(`stages:\n  prod:\n    hosts:\n${hosts}`, file), file, "prod");
    } catch (error) {
      assert.ok(error instanceof CutoverError);
      assert.equal(error.exitCode, 2);
      return error.message;
    }
    assert.fail("expected a config error");
  };
  assert.equal(
    refused("      - { path: /x/y }\n      - { path: /x/y/ }\n"),
    `${file}: stages.prod.hosts[1]: host local-2 has the deploy path /x/y of host local-1 on the same machine (this machine)`,
  );
  assert.match(
    refused(
      "      - deploy@web1:/srv/app\n      - { name: again, host: WEB1, user: deploy, port: 22, path: /srv/app }\n",
    ),
    /stages\.prod\.hosts\[1\]: host again has the deploy path \/srv\/app of host web1 on the same machine \(deploy@web1:22\)/,
  );
  // Another machine, port or login is another deploy path.
  const apart =
    "      - deploy@web1:/srv/app\n      - deploy@web2:/srv/app\n      - { host: web1, user: deploy, port: 2222, path: /srv/app, name: w3 }\n      - { path: /srv/app }\n";
  assert.equal(
    resolveStage(parseConfigText(`stages:\n  prod:\n    hosts:\n${apart}`, file), file, "prod").hosts.length,
    4,
  );
});

test("a host's deploy path named like cutover's own layout (…/current, releases, shared, .cutover) is refused", () => {
  const file = path.join(scratchDir("cfg "), "cutover.yaml");
  for (const [given, name] of [
    ["/var/www/app/current", "current"],
    ["/var/www/app/current/", "current"],
    ["/var/www/app/releases", "releases"],
    ["/srv/shared", "shared"],
    ["/srv/app/.cutover", ".cutover"],
  ] as const) {
    const config = parseConfigText(
      `stages:\n  prod:\n    hosts:\n      - { path: /srv/ok }\n      - deploy@web1:${given}\n`,
      file,
    );
    assert.throws(
      () => resolveStage(config, file, "prod"),
      (e: CutoverError) =>
        e.exitCode === 2 &&
        e.message ===
          `${file}: stages.prod.hosts[1].path: ${given.replace(/\/$/, "")} ends in "${name}", a name of cutover's own layout` &&
        /directory that holds current/.test(e.details.fix ?? ""),
      given,
    );
  }
  assert.doesNotThrow(() =>
    resolveStage(
      parseConfigText("stages:\n  p:\n    hosts: [{ path: /var/www/currently }]\n", file),
      file,
      "p",
    ),
  );
});

test("a config error's fix points to the config reference that exists: README's Configuration section and the JSON schema", () => {
  const fix =
    configError("keep_relases: 3\nstages:\n  p:\n    hosts: [{ path: /srv/a }]\n").details.fix ?? "";
  assert.doesNotMatch(fix, /cutover --help/);
  assert.match(fix, /README\.md's "Configuration" section/);
  assert.match(fix, /schema\/cutover\.schema\.json/);
});

test("init's template lists exactly the environment variables hooks get", async () => {
  const { initTemplate } = await import("../../src/config/init.js");
  const { hookEnv } = await import("../../src/plan/hooks.js");
  const { layout } = await import("../../src/plan/layout.js");
  const dir = scratchDir("init ");
  const file = path.join(dir, "cutover.yaml");
  const stage = resolveStage(
    parseConfigText("stages:\n  p:\n    hosts: [{ path: /srv/a }]\n", file),
    file,
    "p",
  );
  const host = stage.hosts[0]!;
  const env = hookEnv({
    stage,
    host,
    among: [host],
    layout: layout(host.path),
    release: "R",
    previous: undefined,
  });
  const { text } = initTemplate(dir, "/srv/a", "schema.json");
  const comment = text.slice(text.indexOf("# Shell commands run"), text.indexOf("\nhooks:"));
  assert.deepEqual(
    [...comment.matchAll(/CUTOVER_[A-Z_]+/g)].map((m) => m[0]).sort(),
    Object.keys(env).sort(),
  );
});
