import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { parse } from "yaml";
import { BIN, ROOT } from "../helpers/cli.js";
import { type Sshd, type SshRig, sshRig, TEST_ROOT } from "../helpers/sshd.js";
import { snapshot } from "../helpers/tree.js";

const CI = path.join(ROOT, "examples/ci");
const work = mkdtempSync(path.join(os.tmpdir(), "cutover ci "));
const deployPath = path.join(work, "deploy path ü");
let rig: SshRig;
let sshd: Sshd;

before(async () => {
  rig = sshRig();
  sshd = await rig.start();
});
after(async () => {
  await rig.stopAll();
  rmSync(work, { recursive: true, force: true });
});

/**
 * A fresh checkout of the example app (every file with a new mtime) with the CI recipe's cutover.yaml,
 * and cutover where `npm ci` puts a devDependency.
 */
function checkout(change = ""): string {
  const dir = mkdtempSync(path.join(work, "checkout-"));
  cpSync(path.join(ROOT, "examples/php-app"), dir, { recursive: true });
  cpSync(path.join(CI, "cutover.yaml"), path.join(dir, "cutover.yaml"));
  if (change)
    writeFileSync(
      path.join(dir, "src/App.php"),
      `${readFileSync(path.join(dir, "src/App.php"))}// ${change}\n`,
    );
  mkdirSync(path.join(dir, "node_modules/.bin"), { recursive: true });
  writeFileSync(
    path.join(dir, "node_modules/.bin/cutover"),
    `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`,
    {
      mode: 0o755,
    },
  );
  return dir;
}

/** Runs a CI job's script as the runner would: bash, exit on the first failure, only the job's env. */
function runJob(
  script: string,
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], {
      cwd,
      env: { PATH: process.env.PATH!, HOME: process.env.HOME!, CI: "true", ...env },
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.stderr.on("data", (c: Buffer) => (out += c));
    child.on("close", (code) => resolve({ code: code ?? -1, out }));
  });
}

const vars = () => ({
  DEPLOY_HOST: sshd.address,
  DEPLOY_PORT: String(sshd.port),
  DEPLOY_USER: TEST_ROOT,
  DEPLOY_PATH: deployPath,
});
const key = () => readFileSync(rig.clientKey, "utf8");
const knownHosts = () => readFileSync(rig.knownHosts, "utf8");
const releases = () => readdirSync(path.join(deployPath, "releases")).sort();
const live = () => path.basename(realpathSync(path.join(deployPath, "current")));

/** The GitHub workflow's deploy step: its script and its env, with each secret or variable filled in. */
function githubDeploy(values: Record<string, string>) {
  const workflow = parse(readFileSync(path.join(CI, "github-actions.yml"), "utf8"));
  assert.equal(workflow.concurrency.group, "deploy-production");
  assert.equal(workflow.concurrency["cancel-in-progress"], false, "a running deploy is never cancelled");
  const step = workflow.jobs.deploy.steps.find((s: { name?: string }) => s.name === "Deploy");
  assert.match(
    step.env.DEPLOY_SSH_KEY,
    /^\$\{\{ secrets\.DEPLOY_SSH_KEY \}\}$/,
    "the key comes from a secret",
  );
  const env: Record<string, string> = {};
  for (const [name, expression] of Object.entries<string>(step.env)) {
    assert.match(expression, new RegExp(`^\\$\\{\\{ (secrets|vars)\\.${name} \\}\\}$`));
    env[name] = values[name] ?? "";
  }
  return { script: step.run as string, env };
}

test("the recipes deploy with content comparison and a pinned host key", () => {
  const config = parse(readFileSync(path.join(CI, "cutover.yaml"), "utf8"));
  assert.equal(config.upload.compare, "checksum");
  for (const file of ["github-actions.yml", "gitlab-ci.yml"])
    assert.doesNotMatch(
      readFileSync(path.join(CI, file), "utf8"),
      /^[^#]*ssh-keyscan/m,
      `${file} never scans keys`,
    );
});

test("GitHub Actions: the deploy step deploys; a fresh checkout re-uses unchanged files; two runs at once both land, one after the other", async () => {
  const values = { ...vars(), DEPLOY_SSH_KEY: key(), DEPLOY_KNOWN_HOSTS: knownHosts() };
  const { script, env } = githubDeploy(values);
  const first = await runJob(script, checkout(), env);
  assert.equal(first.code, 0, first.out);
  assert.ok(!first.out.includes(key().trim().split("\n")[1]!), "the key is never printed");
  const [one] = releases();
  assert.equal(live(), one);

  const second = await runJob(script, checkout("v2"), env);
  assert.equal(second.code, 0, second.out);
  const two = live();
  assert.notEqual(two, one);
  const ino = (id: string, file: string) => statSync(path.join(deployPath, "releases", id, file)).ino;
  assert.equal(ino(one!, "public/index.php"), ino(two, "public/index.php"), "unchanged: hard-linked");
  assert.notEqual(ino(one!, "src/App.php"), ino(two, "src/App.php"));

  const both = await Promise.all([runJob(script, checkout("v3"), env), runJob(script, checkout("v4"), env)]);
  for (const run of both) assert.equal(run.code, 0, run.out);
  assert.equal(releases().length, 4, "both runs deployed, the second after the first released the lock");
});

test("GitHub Actions: a host key that does not match the pinned one stops the deploy and changes nothing", async () => {
  const otherKey = path.join(work, "other host key");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey]);
  const line = `[${sshd.address}]:${sshd.port} ${readFileSync(`${otherKey}.pub`, "utf8").split(" ").slice(0, 2).join(" ")}\n`;
  const before = snapshot(deployPath);
  const { script, env } = githubDeploy({ ...vars(), DEPLOY_SSH_KEY: key(), DEPLOY_KNOWN_HOSTS: line });
  const run = await runJob(script, checkout("v5"), env);
  assert.notEqual(run.code, 0);
  assert.match(run.out, /host key/i);
  assert.deepEqual(snapshot(deployPath), before);
});

test("GitLab CI: the job's script lines deploy, with the key and known_hosts as File variables", async () => {
  const pipeline = parse(readFileSync(path.join(CI, "gitlab-ci.yml"), "utf8"));
  const job = pipeline.deploy;
  assert.equal(job.resource_group, "production", "GitLab runs one deploy of the group at a time");
  const files = mkdtempSync(path.join(work, "gitlab-files-"));
  writeFileSync(path.join(files, "DEPLOY_SSH_KEY"), key());
  writeFileSync(path.join(files, "DEPLOY_KNOWN_HOSTS"), knownHosts());
  const before = live();
  const run = await runJob((job.script as string[]).join("\n"), checkout("v6"), {
    ...vars(),
    DEPLOY_SSH_KEY: path.join(files, "DEPLOY_SSH_KEY"),
    DEPLOY_KNOWN_HOSTS: path.join(files, "DEPLOY_KNOWN_HOSTS"),
  });
  assert.equal(run.code, 0, run.out);
  assert.notEqual(live(), before);
  assert.ok(existsSync(path.join(deployPath, "current/public/index.php")));
});
