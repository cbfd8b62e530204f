import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { resolveComponent } from "../../src/config/components.js";
import { parseConfigText } from "../../src/config/load.js";
import { CutoverError } from "../../src/errors.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "cutover components "));
after(() => rmSync(dir, { recursive: true, force: true }));
for (const sub of ["app/api", "app/admin", "app/jobs"]) mkdirSync(path.join(dir, sub), { recursive: true });
const file = path.join(dir, "cutover.yaml");

const YAML = `
source: app
keep_releases: 4
shared_files: [.env]
hooks: { build: ["make"] }
components:
  api: { keep_releases: 9, hooks: { build: ["composer install"] } }
  admin: { path: /srv/admin-part }
  worker: { source: jobs, path: "parts/worker", roles: [jobs] }
stages:
  prod:
    keep_releases: 6
    hosts:
      - { name: web, host: 127.0.0.1, path: /srv/app, roles: [web] }
      - { host: 127.0.0.2, path: /srv/app2, roles: [jobs] }
`;

const resolve = (text: string, name: string) =>
  resolveComponent(parseConfigText(text, file, {}), file, "prod", name);

function failure(text: string, name: string): CutoverError {
  try {
    resolve(text, name);
  } catch (error) {
    assert.ok(error instanceof CutoverError, String(error));
    return error;
  }
  assert.fail("expected an error");
}

test("a component's keys win over the stage's, which win over the top level's; the rest is inherited", () => {
  const api = resolve(YAML, "api");
  assert.equal(api.component, "api");
  assert.equal(api.name, "prod");
  assert.equal(api.keepReleases, 9);
  assert.deepEqual(
    api.hooks.build.map((h) => h.run),
    ["composer install"],
  );
  assert.deepEqual(api.sharedFiles, [".env"]);
  const admin = resolve(YAML, "admin");
  assert.equal(admin.keepReleases, 6, "the stage's value when the component sets none");
  assert.deepEqual(
    admin.hooks.build.map((h) => h.run),
    ["make"],
  );
});

test("source is the component's directory under the stage's source (default: its name)", () => {
  assert.equal(resolve(YAML, "api").source, path.join(dir, "app/api"));
  assert.equal(resolve(YAML, "worker").source, path.join(dir, "app/jobs"));
});

test("deploy paths: DEPLOY_PATH/<name> by default, a relative path under it, or an absolute one", () => {
  assert.deepEqual(
    resolve(YAML, "api").hosts.map((h) => [h.name, h.path]),
    [
      ["web", "/srv/app/api"],
      ["127.0.0.2", "/srv/app2/api"],
    ],
  );
  assert.deepEqual(
    resolve(YAML, "admin").hosts.map((h) => h.path),
    ["/srv/admin-part", "/srv/admin-part"],
  );
});

test("roles limit a component to some hosts, which keep their stage-wide names", () => {
  const worker = resolve(YAML, "worker");
  assert.deepEqual(
    worker.hosts.map((h) => [h.name, h.path]),
    [["127.0.0.2", "/srv/app2/parts/worker"]],
  );
  const local = resolve(
    "components: { a: { roles: [x], source: app/api } }\nstages: { prod: { hosts: [{ path: /srv/1 }, { path: /srv/2, roles: [x] }] } }",
    "a",
  );
  assert.deepEqual(
    local.hosts.map((h) => h.name),
    ["local-2"],
    "not renamed to local",
  );
});

test("unknown component names are a usage error listing the known ones", () => {
  const e = failure(YAML, "apii");
  assert.equal(e.exitCode, 2);
  assert.match(e.message, /no component "apii" in .* \(components: api, admin, worker\)/);
});

test("two components in one directory, or one inside another, are refused", () => {
  const same = failure(`${YAML.replace("path: /srv/admin-part", "path: /srv/app/api")}`, "api");
  assert.match(same.message, /components\.admin\.path: \/srv\/app\/api on host web overlaps component api/);
  const nested = failure(YAML.replace("path: /srv/admin-part", "path: ."), "admin");
  assert.match(nested.message, /components\.admin\.path: \/srv\/app on host web overlaps component api/);
  assert.equal(nested.exitCode, 2);
});

test("a deploy path named like cutover's own layout (current, releases, shared, .cutover) is refused", () => {
  const e = failure(YAML.replace("path: /srv/admin-part", "path: old/releases"), "api");
  assert.match(
    e.message,
    /components\.admin\.path: \/srv\/app\/old\/releases on host web ends in "releases"/,
  );
  const named = failure(
    "components: { shared: { source: app/api } }\nstages: { prod: { hosts: [{ path: /srv/1 }] } }",
    "shared",
  );
  assert.match(named.message, /components\.shared\.path: \/srv\/1\/shared on host local ends in "shared"/);
});

test("a missing source directory and roles no host has are named with their key", () => {
  assert.match(
    failure(YAML.replace("source: jobs", "source: nope"), "worker").message,
    /components\.worker\.source: .*app\/nope is not a directory/,
  );
  assert.match(
    failure(YAML.replace("roles: [jobs] }", "roles: [db] }"), "worker").message,
    /components\.worker\.roles: no host of stage prod has a role of db/,
  );
});

test("the schema refuses bad component names, .. in paths and per-component ssh settings", () => {
  const parse = (text: string) => {
    try {
      parseConfigText(text, "cutover.yaml", {});
    } catch (error) {
      return (error as Error).message;
    }
    return "accepted";
  };
  const stages = "stages: { p: { hosts: [{ path: /srv/a }] } }";
  assert.match(parse(`components: { "..": {} }\n${stages}`), /components\.\.\.: component names use/);
  assert.match(
    parse(`components: { a: { path: ../b } }\n${stages}`),
    /components\.a\.path: must not contain "\.\."/,
  );
  assert.match(
    parse(`components:\n  a: { ssh: {} }\n${stages}`),
    /^cutover\.yaml:2: components\.a\.ssh: unknown key/,
  );
});
