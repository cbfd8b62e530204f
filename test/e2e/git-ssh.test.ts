import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { type GitOrigin, gitOrigin } from "../helpers/git-origin.js";
import { freePort } from "../helpers/ports.js";
import { type Sshd, type SshRig, sshHost, sshRig, TEST_ROOT } from "../helpers/sshd.js";
import { assertCurrentComplete } from "../helpers/tree.js";

interface Result {
  ok: boolean;
  release: string;
  hosts: { host: string; state: string }[];
  error?: { message: string };
}

let rig: SshRig;
let origin: GitOrigin;
let gitServer: Sshd;
const good: Sshd[] = [];
let broken: Sshd;
const fx = fixture();
const paths = [1, 2, 3].map((i) => path.join(fx.dir, `host ${i}`));
const live = (p: string) =>
  existsSync(path.join(p, "current")) ? path.basename(realpathSync(path.join(p, "current"))) : null;
const commitOf = (p: string, id: string) =>
  (
    JSON.parse(readFileSync(path.join(p, ".cutover/releases", `${id}.json`), "utf8")) as {
      revision: { commit: string };
    }
  ).revision.commit;
// git over SSH with the rig's key, for this machine (the CLI's ls-remote) and, through sshd's SetEnv, for the hosts.
let gitSsh = "";
const sshUrl = () => `ssh://${TEST_ROOT}@${gitServer.address}:${gitServer.port}${origin.bare}`;

before(async () => {
  rig = sshRig();
  origin = gitOrigin(path.join(fx.dir, "origin"));
  gitSsh = `ssh -i '${rig.clientKey}' -o UserKnownHostsFile='${rig.knownHosts}' -o BatchMode=yes`;
  gitServer = await rig.start();
  for (let i = 0; i < 3; i++)
    good.push(
      await rig.start({ address: `127.0.0.${i + 2}`, extraConfig: [`SetEnv "GIT_SSH_COMMAND=${gitSsh}"`] }),
    );
  // A host that cannot reach the repository: its git's ssh always fails.
  broken = await rig.start({ address: "127.0.0.9", extraConfig: ['SetEnv "GIT_SSH_COMMAND=false"'] });
  for (const p of paths) {
    mkdirSync(path.join(p, "shared"), { recursive: true });
    writeFileSync(path.join(p, "shared/.env"), "APP_KEY=host\n");
  }
});
after(async () => {
  await rig.stopAll();
  fx.cleanup();
});

const config = (servers: Sshd[]) =>
  fx.writeConfig(
    { strategy: "git", repository: sshUrl(), ref: "main", source: undefined, exclude: undefined },
    servers.map((s, i) => sshHost(rig, s, paths[i]!, { name: `web${i + 1}` })),
  );
const deploy = async () => {
  const r = await cutover(["--json", "deploy"], fx.app, { GIT_SSH_COMMAND: gitSsh });
  return { ...r, result: json<Result>(r) };
};

test("over SSH, from an ssh:// origin: the same commit on 3 hosts", async () => {
  const v1 = origin.commit({ "public/index.php": "<?php echo 'v1';\n", "lib/a.php": "<?php\n" }, "v1");
  config(good);
  const r = await deploy();
  assert.equal(r.code, 0, r.stderr);
  for (const p of paths) {
    assert.equal(live(p), r.result.release);
    assert.equal(commitOf(p, r.result.release), v1);
    assert.equal(readFileSync(path.join(p, "current/public/index.php"), "utf8"), "<?php echo 'v1';\n");
    assertCurrentComplete(p, ["bootstrap/cache"]);
  }
  // Negative control: the hosts really fetch over SSH (the mirror stores the ssh:// URL).
  const mirrorConfig = readFileSync(path.join(paths[0]!, ".cutover/repo/config"), "utf8");
  assert.match(mirrorConfig, new RegExp(`origin = ssh://127\\.0\\.0\\.1:${gitServer.port}/`));
});

test("a mirror fetch that fails on one host: nobody switches", async () => {
  const before = paths.map(live);
  origin.commit({ "public/index.php": "<?php echo 'v2';\n" }, "v2");
  config([good[0]!, broken, good[2]!]);
  const r = await deploy();
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.result.error!.message, /web2: fetch repository mirror failed/);
  assert.deepEqual(paths.map(live), before, "every host still serves the previous release");
  for (const p of paths)
    assert.equal(readFileSync(path.join(p, "current/public/index.php"), "utf8"), "<?php echo 'v1';\n");
  // With the host reachable again, the same deploy goes through everywhere.
  config(good);
  const again = await deploy();
  assert.equal(again.code, 0, again.stderr);
  for (const p of paths)
    assert.equal(readFileSync(path.join(p, "current/public/index.php"), "utf8"), "<?php echo 'v2';\n");
});

test("an unreachable ssh:// repository: a clear error before anything changes on any host", async () => {
  const before = paths.map(live);
  const port = await freePort("127.0.0.1");
  fx.writeConfig(
    {
      strategy: "git",
      repository: `ssh://${TEST_ROOT}@127.0.0.1:${port}${origin.bare}`,
      ref: "main",
      source: undefined,
      exclude: undefined,
    },
    good.map((s, i) => sshHost(rig, s, paths[i]!, { name: `web${i + 1}` })),
  );
  const r = await deploy();
  assert.equal(r.code, 1);
  assert.match(r.result.error!.message, new RegExp(`cannot read repository ssh://127\\.0\\.0\\.1:${port}/`));
  assert.match(r.stderr, /nothing was changed on any host/);
  assert.deepEqual(paths.map(live), before);
  for (const p of paths) assert.ok(!existsSync(path.join(p, ".cutover/lock")), "no lock was taken");
});
