/**
 * Benchmark (run by hand, prints figures): the generated 5,000-file app over SSH through a proxy
 * that delays every packet (bench/latency-proxy.ts), as on a real network: for each round-trip
 * time, a 1-file incremental deploy (median of RUNS, with its phases from --timings and the number
 * of scripts cutover sent the host) against a bare `rsync -a` of the same change over ssh.
 * Round trips, not bytes, decide a small deploy's time on such a link. With OTHER (another build's
 * bin/cutover.js), its deploys alternate with this build's to the same host, for an A/B.
 *   npx tsx bench/ssh-latency.ts [runs=5] [rttsMs=0,20,60] [other]
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sshHost, sshRig, TEST_ROOT } from "../test/helpers/sshd.js";
import { generateApp, writeBenchConfig } from "./gen-app.js";
import { latencyProxy } from "./latency-proxy.js";
import { withoutExtraCaCerts } from "./plain-env.js";
import { timed } from "./timed.js";

withoutExtraCaCerts();

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const runs = Number(process.argv[2] ?? 5);
const rtts = (process.argv[3] ?? "0,20,60").split(",").map(Number);
const builds = [
  path.join(root, "bin/cutover.js"),
  ...(process.argv[4] ? [path.resolve(process.argv[4])] : []),
];
const work = mkdtempSync(path.join(os.tmpdir(), "cutover-bench-latency-"));
const app = path.join(work, "app");
generateApp(app);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rig = sshRig();
const sshd = await rig.start({ address: "127.0.0.2" });

/** A command's wall time in the app; the proxy runs in this process meanwhile. */
const measure = (args: string[]) => timed(args, app);

console.log(
  `app: 5000 files, ~40 MB; ${os.cpus().length} cores; node ${process.version}; ${runs} runs, medians`,
);
for (const rtt of rtts) {
  const proxy = await latencyProxy("127.0.0.3", { host: sshd.address, port: sshd.port }, rtt / 2);
  appendFileSync(
    rig.knownHosts,
    `${sshd.knownHostsLine.replace(/^\[[^\]]+\]:\d+/, `[127.0.0.3]:${proxy.port}`)}\n`,
  );
  const server = { ...sshd, address: "127.0.0.3", port: proxy.port };
  const ssh = `ssh -o BatchMode=yes -o UserKnownHostsFile=${rig.knownHosts} -i '${rig.clientKey}' -p ${proxy.port}`;
  const bareDest = `/tmp/cutover-bench-latency-bare`;
  rmSync(bareDest, { recursive: true, force: true });
  const bare = async () =>
    (await measure(["rsync", "-a", "-e", ssh, `${app}/`, `${TEST_ROOT}@127.0.0.3:${bareDest}/`])).ms;
  const target = path.join(work, `t${rtt}`);
  writeBenchConfig(app, "bench", [sshHost(rig, server, target, { name: "h1" })]);
  await bare();
  await measure([process.execPath, builds[0]!, "deploy", "-q"]);
  const bareMs: number[] = [];
  const measured = builds.map(() => ({
    ms: [] as number[],
    phases: new Map<string, number[]>(),
    steps: new Map<string, number[]>(),
  }));
  for (let run = 0; run < runs; run++) {
    for (const [i, bin] of builds.entries()) {
      const m = measured[i]!;
      writeFileSync(path.join(app, "public/index.php"), `<?php echo 'rtt ${rtt} ${run} ${i}';\n`);
      if (i === 0) bareMs.push(await bare());
      const r = await measure([process.execPath, bin, "deploy", "-q", "--json", "--timings"]);
      m.ms.push(r.ms);
      const t = (
        JSON.parse(r.stdout) as {
          timings: { phases: { phase: string; ms: number }[]; steps: { step: string; ms: number }[] };
        }
      ).timings;
      for (const s of t.steps) m.steps.set(s.step, [...(m.steps.get(s.step) ?? []), s.ms]);
      for (const p of t.phases) {
        const name = p.phase.replace(/ \d{8}T\d{6}Z/, "").replace(/ on 1 host| 1 host/, "");
        m.phases.set(name, [...(m.phases.get(name) ?? []), p.ms]);
      }
    }
  }
  const b = median(bareMs);
  console.log(`RTT ${String(rtt).padStart(3)} ms: bare rsync -a of the change ${b.toFixed(0)} ms`);
  for (const [i, m] of measured.entries()) {
    const c = median(m.ms);
    console.log(
      `  ${builds.length > 1 ? `${["this build", "other build"][i]}: ` : ""}1-file incremental ${c.toFixed(0)} ms (${(c / b).toFixed(2)}× bare)`,
    );
    console.log(`    phases (ms): ${[...m.phases].map(([k, v]) => `${k} ${median(v)}`).join("; ")}`);
    console.log(`    steps (ms): ${[...m.steps].map(([k, v]) => `${k} ${median(v)}`).join("; ")}`);
  }
  await proxy.close();
  rmSync(target, { recursive: true, force: true });
  rmSync(bareDest, { recursive: true, force: true });
}
await rig.stopAll();
rmSync(work, { recursive: true, force: true });
