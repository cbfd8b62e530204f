/**
 * Benchmark (run by hand, prints figures): for each PHP stack, RUNS deploys of the probe app with
 * `cutover deploy --probe` (50 keep-alive connections): p99 and max latency in the switch window vs
 * steady state, the longest stale period after the switch (answers by the old release while the
 * command still runs: the reset or reload in progress), and the deploy's wall time.
 *   npx tsx bench/php-stacks.ts [runs=10]
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { BIN, cutover } from "../test/helpers/cli.js";
import { fixture } from "../test/helpers/fixture.js";
import { writeProbeApp } from "../test/helpers/php-app.js";
import { startApache, startFpm, startNginx } from "../test/helpers/web.js";
import { withoutExtraCaCerts } from "./plain-env.js";

withoutExtraCaCerts();

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

interface Stack {
  readonly web: "nginx" | "nginx-document-root" | "apache-fpm" | "apache-mod_php";
  readonly validateTimestamps: boolean;
  readonly reset: "none" | "opcache";
  readonly warmup?: boolean;
}
const stacks: [string, Stack][] = [
  [
    "1: nginx $realpath_root, validate_timestamps=1",
    { web: "nginx", validateTimestamps: true, reset: "none" },
  ],
  [
    "2: nginx $realpath_root, validate_timestamps=0",
    { web: "nginx", validateTimestamps: false, reset: "none" },
  ],
  [
    "3: nginx $document_root + reset: opcache",
    { web: "nginx-document-root", validateTimestamps: true, reset: "opcache" },
  ],
  [
    "3w: the same + warmup",
    { web: "nginx-document-root", validateTimestamps: true, reset: "opcache", warmup: true },
  ],
  ["4: Apache + php-fpm + reset: opcache", { web: "apache-fpm", validateTimestamps: true, reset: "opcache" }],
  [
    "4m: Apache mod_php + graceful reload",
    { web: "apache-mod_php", validateTimestamps: true, reset: "none" },
  ],
];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

for (const [name, stack] of stacks) {
  const fx = fixture("bench");
  const build = writeProbeApp(fx);
  const modPhp = stack.web === "apache-mod_php";
  const fpm = modPhp
    ? undefined
    : await startFpm(path.join(fx.dir, "fpm"), { validateTimestamps: stack.validateTimestamps });
  const webDir = path.join(fx.dir, "web");
  fx.writeConfig({
    shared_dirs: [],
    shared_files: [],
    writable_dirs: [],
    hooks: { build },
    php: fpm
      ? { fpm: [{ socket: fpm.socket, reset: stack.reset }], warmup: stack.warmup ? ["lib", "public"] : [] }
      : { mod_php: true, reload_command: `kill -USR1 "$(cat '${webDir}/apache.pid')"` },
  });
  const printed = (server: string, listen: string) =>
    execFileSync(
      process.execPath,
      [BIN, "server-config", server, "--listen", listen, ...(fpm ? ["--fpm", fpm.socket] : [])],
      { cwd: fx.app },
    ).toString();
  if (!modPhp) await cutover(["deploy", "-q"], fx.app);
  const web = stack.web.startsWith("apache")
    ? await startApache(webDir, (listen) => printed("apache", listen), { modPhp })
    : await startNginx(webDir, (listen) => {
        const config = printed("nginx", listen);
        return stack.web === "nginx" ? config : config.replaceAll("$realpath_root", "$document_root");
      });
  if (modPhp) await cutover(["deploy", "-q"], fx.app);
  const reports: Report[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await cutover(
      ["--json", "-q", "deploy", "--probe", `${web.url}/`, "--probe-concurrency", "50"],
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
  await web.stop();
  await fpm?.stop();
  fx.cleanup();
}
