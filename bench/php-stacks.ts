/**
 * Benchmark (run by hand, prints figures): for each PHP stack, RUNS deploys of the probe app with
 * `cutover deploy --probe` (50 keep-alive connections): p99 and max latency in the switch window vs
 * steady state, the longest stale period after the switch, and the deploy's wall time.
 *   npx tsx bench/php-stacks.ts [runs=10]
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { BIN, cutover } from "../test/helpers/cli.js";
import { fixture } from "../test/helpers/fixture.js";
import { writeProbeApp } from "../test/helpers/php-app.js";
import { startFpm, startNginx } from "../test/helpers/web.js";

interface Report {
  durationMs: number;
  probe: {
    stale: number;
    staleMs: number;
    mixed: number;
    failures: Record<string, number>;
    latencyMs: Record<"steady" | "switchWindow", { p99: number; max: number }>;
  };
}

const runs = Number(process.argv[2] ?? 10);
const stacks: [string, { validateTimestamps: boolean; reset: "none" | "opcache" }][] = [
  ["1: nginx $realpath_root, validate_timestamps=1", { validateTimestamps: true, reset: "none" }],
  ["2: nginx $realpath_root, validate_timestamps=0", { validateTimestamps: false, reset: "none" }],
];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

for (const [name, stack] of stacks) {
  const fx = fixture("bench");
  const build = writeProbeApp(fx);
  const fpm = await startFpm(path.join(fx.dir, "fpm"), { validateTimestamps: stack.validateTimestamps });
  fx.writeConfig({
    shared_dirs: [],
    shared_files: [],
    writable_dirs: [],
    hooks: { build },
    php: { fpm: [{ socket: fpm.socket, reset: stack.reset }] },
  });
  const server = execFileSync(
    process.execPath,
    [BIN, "server-config", "nginx", "--listen", "LISTEN", "--fpm", fpm.socket],
    { cwd: fx.app },
  ).toString();
  const nginx = await startNginx(path.join(fx.dir, "nginx"), (listen) =>
    server.replace("listen LISTEN;", `listen ${listen};`),
  );
  await cutover(["deploy", "-q"], fx.app);
  const reports: Report[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await cutover(
      ["--json", "-q", "deploy", "--probe", `${nginx.url}/`, "--probe-concurrency", "50"],
      fx.app,
    );
    if (r.code !== 0) throw new Error(r.stderr);
    reports.push(JSON.parse(r.stdout) as Report);
  }
  const failed = reports.reduce((n, r) => n + Object.values(r.probe.failures).reduce((a, b) => a + b, 0), 0);
  const p = (k: "steady" | "switchWindow", m: "p99" | "max") =>
    median(reports.map((r) => r.probe.latencyMs[k][m]));
  console.log(
    `stack ${name}: ${runs} deploys, ${failed} failed requests, ${reports.reduce((n, r) => n + r.probe.mixed, 0)} mixed; ` +
      `p99 ${p("switchWindow", "p99")} ms in the switch window vs ${p("steady", "p99")} ms steady (max ${p("switchWindow", "max")} vs ${p("steady", "max")}); ` +
      `stale after switch: max ${Math.max(...reports.map((r) => r.probe.staleMs))} ms; deploy wall time median ${median(reports.map((r) => r.durationMs))} ms`,
  );
  await nginx.stop();
  await fpm.stop();
  fx.cleanup();
}
