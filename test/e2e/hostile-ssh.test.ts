import { cpSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { fuzzRound } from "../helpers/fuzz-run.js";
import { INTERRUPT_CASES, runInterruptCase } from "../helpers/interrupt-cases.js";
import { type Sshd, type SshRig, sshHost, sshRig } from "../helpers/sshd.js";
import { assertCurrentComplete, trashEmptied } from "../helpers/tree.js";

/**
 * The hostile-state property test and the interrupt tests over real SSH: names and metadata cross
 * the connection, removals are checked on the far side, and a signal must stop the step on the
 * remote host (its whole process group), not just the local ssh client.
 */
const SEEDS = Number(process.env.CUTOVER_FUZZ_SSH_SEEDS ?? 15);
let rig: SshRig;
let servers: Sshd[] = [];
const fx = fixture();
const baseline = path.join(fx.dir, "baseline");

before(async () => {
  rig = sshRig();
  servers = [await rig.start(), await rig.start()];
});
after(async () => {
  await rig.stopAll();
  fx.cleanup();
});

test(`${SEEDS} seeds of hostile host state over SSH: only cutover's own changes, shared/ intact, current complete`, async () => {
  fx.writeConfig({}, [sshHost(rig, servers[0]!, fx.deployPath)]);
  for (let i = 0; i < 3; i++) {
    const r = await cutover(["deploy", "-q"], fx.app);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  await trashEmptied(fx.deployPath); // the failed release's removal
  cpSync(fx.deployPath, baseline, { recursive: true, verbatimSymlinks: true });
  for (let seed = 101; seed < 101 + SEEDS; seed++)
    await fuzzRound(fx, baseline, seed, (p) => sshHost(rig, servers[0]!, p));
});

for (const [i, c] of INTERRUPT_CASES.entries()) {
  test(`over SSH, two hosts: SIGTERM during ${c.name}: nothing of the step left on the hosts, locks released, history written`, async () => {
    const paths = [path.join(fx.dir, `ssh host a ${i}`), path.join(fx.dir, `ssh host b ${i}`)];
    const hosts = paths.map((p, k) => sshHost(rig, servers[k]!, p, { name: `web${k + 1}` }));
    const marker = `${70 + i}.${process.pid % 1000}${i}`;
    await runInterruptCase(fx, c, marker, hosts, paths);
    for (const p of paths) assertCurrentComplete(p, ["bootstrap/cache"]);
  });
}
