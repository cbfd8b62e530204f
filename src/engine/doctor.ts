import { randomBytes } from "node:crypto";
import type { ResolvedStage } from "../config/resolve.js";
import { doctorProbe, parseDoctor, writtenSinceDeploy } from "../integrations/doctor-probe.js";
import { parseReports } from "../integrations/php/runtime-script.js";
import { askPool, inspectionFiles } from "../integrations/php/steps.js";
import { exposedCandidates, exposedFix, parseCandidates } from "../integrations/web/exposed.js";
import { layout } from "../plan/layout.js";
import { isAdoptableName } from "../plan/release-id.js";
import { balancerFindings } from "./doctor-balancer.js";
import { gitFindings } from "./doctor-git.js";
import { exposedFiles } from "./doctor-http.js";
import { inPlaceFindings, inPlacePoolFindings } from "./doctor-in-place.js";
import { rollbackTargetFindings } from "./doctor-rollback.js";
import { readWebConfigs } from "./doctor-web.js";
import { onEveryHost } from "./every-host.js";
import { healthUrl } from "./health.js";
import { readFacts } from "./lock.js";
import { phpOfHost, withRuntime } from "./php-runtime.js";
import { opcacheOff } from "./php-stale.js";
import { runStep } from "./steps.js";
import { openTargets, selectHosts, type Target } from "./targets.js";

export interface Finding {
  readonly host: string;
  readonly level: "error" | "warning";
  readonly check: string;
  readonly message: string;
  readonly fix: string;
}

const LOW_DISK_KB = 1024 * 1024;
const MAX_SKEW_MS = 2000;

/**
 * Inspects every host read-only and explains each setting that would serve stale or mixed code or
 * lose data, with the fix. Web server configs (nginx, Apache) are read from `configPaths`, or, when
 * none are given, as the installed and running servers load them (see readWebConfigs).
 */
export async function doctor(
  stage: ResolvedStage,
  options: { hosts?: readonly string[]; configPaths?: readonly string[] },
): Promise<Finding[]> {
  const targets = openTargets(stage, selectHosts(stage, options.hosts));
  try {
    const perHost = await onEveryHost(targets, (t) => inspect(t, stage, options.configPaths));
    const findings = perHost.flatMap((h) => h.findings);
    findings.push(...(await askForSecrets(stage, targets, perHost)));
    findings.push(...(await balancerFindings(stage)));
    findings.push(...(await gitFindings(stage, targets)));
    const clocks = perHost.map((h) => h.clockMs);
    const skewMs = clocks.length > 1 ? Math.round(Math.max(...clocks) - Math.min(...clocks)) : 0;
    if (skewMs > MAX_SKEW_MS) {
      findings.push({
        host: "all",
        level: "warning",
        check: "clock",
        message: `host clocks differ by ${skewMs} ms: release ids and history times come from this machine, but hooks and logs on the hosts will disagree`,
        fix: "run NTP (chrony or systemd-timesyncd) on every host",
      });
    }
    return findings;
  } finally {
    await targets.close();
  }
}

/**
 * Over HTTP, at the probe URL and each host's health check URL: the release's dotfiles, .git/HEAD,
 * cutover.yaml, a root vendor/ and PHP source not named .php must not be served. Compared with
 * every inspected host's live release.
 */
async function askForSecrets(
  stage: ResolvedStage,
  targets: readonly Target[],
  perHost: readonly { candidates: ReadonlyMap<string, ReadonlySet<string>> }[],
): Promise<Finding[]> {
  const candidates = new Map<string, Set<string>>();
  for (const h of perHost)
    for (const [path, hashes] of h.candidates)
      candidates.set(path, new Set([...(candidates.get(path) ?? []), ...hashes]));
  const bases: [string, string][] = [
    ...(stage.probe ? [["probe", stage.probe.url] as [string, string]] : []),
    ...(stage.healthCheck?.url
      ? targets.map((t) => [t.host.name, healthUrl(stage.healthCheck!, t.host)] as [string, string])
      : []),
  ];
  const reports = await Promise.all(
    bases.map(async ([host, base]) => ({ host, ...(await exposedFiles(base, candidates)) })),
  );
  return reports.flatMap(({ host, exposed, notAsked }) => [
    ...(notAsked
      ? [
          {
            host,
            level: "warning" as const,
            check: "http",
            message: `could not ask the web server whether it serves .env, .git or cutover.yaml: ${notAsked}`,
            fix: "check probe.url and health_check.url, or run doctor where they are reachable",
          },
        ]
      : []),
    ...exposed.map((e) => ({
      host,
      level: "error" as const,
      check: "http",
      message: `GET ${e.url} answered 200 with the release's own ${e.path.slice(1)}: the web server hands it to anyone who asks`,
      fix: exposedFix(e.path),
    })),
  ]);
}

async function inspect(
  t: Target,
  stage: ResolvedStage,
  configPaths: readonly string[] | undefined,
): Promise<{ findings: Finding[]; clockMs: number; candidates: Map<string, Set<string>> }> {
  const l = layout(t.host.path);
  const findings: Finding[] = [];
  let candidates = new Map<string, Set<string>>();
  const add = (level: Finding["level"], check: string, message: string, fix: string) =>
    findings.push({ host: t.host.name, level, check, message, fix });
  const facts = await readFacts(t, []);
  const sent = Date.now();
  const { stdout } = await runStep({ executor: t.executor, emit: () => undefined }, "doctor", [
    doctorProbe(l.root, stage.strategy === "in-place" ? [...stage.sharedDirs, ...stage.sharedFiles] : []),
  ]);
  const d = parseDoctor(stdout.toString("utf8"));
  const clockMs = d.clockMs - (Date.now() - sent) / 2;

  if (stage.strategy === "in-place") inPlaceFindings(facts, l, d.unshared, add);
  else if (facts.current.kind === "dir")
    add(
      "error",
      "current",
      `${l.current} is a real directory`,
      "run `cutover adopt --migrate`: it becomes a release and current a link to it, atomically",
    );
  const unadopted = facts.foreign.filter((name) => isAdoptableName(name));
  if (unadopted.length > 0)
    add(
      "warning",
      "adopt",
      `releases/ holds ${unadopted.length} release(s) cutover did not make (${unadopted.slice(0, 3).join(", ")}${unadopted.length > 3 ? ", …" : ""}): not rollback targets, never hard-link sources`,
      "run `cutover adopt` to record them (it moves nothing)",
    );
  if (!d.rsync) add("error", "rsync", "rsync is not installed", "apt-get install rsync");
  if (facts.availKb !== undefined && facts.availKb < LOW_DISK_KB) {
    add(
      "warning",
      "disk",
      `only ${Math.round(facts.availKb / 1024)} MiB free in ${l.root}`,
      "free space, or lower keep_releases",
    );
  }
  if (d.trash && d.trash.left > 0)
    add(
      "warning",
      "trash",
      `${d.trash.left} pruned release(s) could not be removed from ${l.root}/.cutover/trash: ${d.trash.error}`,
      "remove them there by hand (files the app's user wrote may need that user or root); nothing uses them",
    );
  const web = await readWebConfigs(t, stage, configPaths);
  for (const f of web.findings) add(f.level, f.check, f.message, f.fix);
  for (const line of d.cron)
    add(
      "error",
      "cron",
      `a cron entry runs from a release path: ${line}`,
      `use ${l.current}/... so it follows deploys`,
    );
  for (const line of d.processes) {
    add(
      "warning",
      "workers",
      `a process runs from a release path (it keeps old code): ${line.slice(0, 200)}`,
      "restart queue workers in an after_switch hook, and start them from current/",
    );
  }
  if (facts.current.kind === "link" && facts.current.release) {
    const id = facts.current.release;
    const rel = l.release(id);
    const { stdout: hashes } = await runStep({ executor: t.executor, emit: () => undefined }, "doctor", [
      exposedCandidates(rel),
    ]);
    candidates = parseCandidates(hashes.toString("utf8"));
    const { stdout: written } = await runStep({ executor: t.executor, emit: () => undefined }, "doctor", [
      writtenSinceDeploy(
        rel,
        l.releaseManifest(id),
        stage.writableDirs.map((w) => w.path),
      ),
    ]);
    const files = written
      .toString("utf8")
      .split("\n")
      .filter(Boolean)
      .map((f) => f.slice(rel.length + 1));
    if (files.length > 0) {
      add(
        "error",
        "writes",
        `the application wrote ${files.length}${files.length === 20 ? "+" : ""} file(s) inside the live release ${id} since its deploy (e.g. ${files.slice(0, 3).join(", ")}): they are gone after the next deploy`,
        "add their directory to shared_dirs (kept across releases), or to writable_dirs if it is a per-release cache",
      );
    }
  }
  await rollbackTargetFindings(t, stage, facts, l, add);
  if (stage.php.pools.length > 0 && d.php) await inspectPools(t, stage, web.resolvesPerRequest, add);
  return { findings, clockMs, candidates };
}

async function inspectPools(
  t: Target,
  stageOfAll: ResolvedStage,
  /** A web server config for this path resolves the symlink per request ($realpath_root). */
  resolvesPerRequest: boolean,
  add: (level: Finding["level"], check: string, message: string, fix: string) => void,
): Promise<void> {
  const stage = phpOfHost(stageOfAll, t.host);
  const l = layout(t.host.path);
  const files = inspectionFiles(randomBytes(8).toString("hex"));
  const ctx = { executor: t.executor, emit: () => undefined };
  await withRuntime(ctx, l, files, "", async () => {
    for (const pool of stage.php.pools) {
      const out = await t.executor.run([askPool(stage.php, files, pool, "status")]);
      const [report] = parseReports(out.stdout.toString("utf8"));
      if (out.code !== 0 || !report) {
        add(
          "error",
          "php-fpm",
          `cannot reach the php-fpm pool at ${pool.address}: ${out.stderr.trim().split("\n")[0]}`,
          "check php.fpm in cutover.yaml",
        );
        continue;
      }
      const ini = report.ini;
      // In place, $realpath_root resolves to current itself: only OPcache's own checks see new code.
      const inPlace = stage.strategy === "in-place";
      if (inPlace) inPlacePoolFindings(pool, ini, add);
      if (
        !inPlace &&
        ini["opcache.validate_timestamps"] === "0" &&
        pool.reset === "none" &&
        !resolvesPerRequest
      ) {
        add(
          "warning",
          "opcache",
          `${pool.address}: opcache.validate_timestamps=0 and no reset configured: only a web server that resolves the symlink per request ($realpath_root) serves new code`,
          "use $realpath_root, or set reset: opcache for this pool",
        );
      }
      const ttl = Number(ini.realpath_cache_ttl || 0);
      // opcache_reset() is what clears the workers' realpath caches: with OPcache off it clears none.
      const off = opcacheOff([report]);
      const noReset =
        pool.reset === "none"
          ? "no reset configured"
          : off && pool.reset === "opcache"
            ? `reset: opcache with OPcache off (${off.setting})`
            : undefined;
      if (!inPlace && ttl > 0 && noReset && !resolvesPerRequest) {
        add(
          "warning",
          "realpath",
          `${pool.address}: realpath_cache_ttl=${ttl} and ${noReset}: for up to ${ttl} s after a switch each worker resolves ${l.current} to the release it cached, unless the web server resolves the symlink per request ($realpath_root)`,
          `use $realpath_root (see \`cutover server-config nginx\`), or set ${off ? "reset: reload" : "reset: opcache"} for this pool (it clears the realpath cache too)`,
        );
      }
      if (ini["opcache.preload"]) {
        add(
          "error",
          "preload",
          `${pool.address}: opcache.preload=${ini["opcache.preload"]} pins the preloaded release's classes; no reset clears them`,
          "reload php-fpm after each switch (drain the host first), or stop preloading",
        );
      }
      const save = String(ini["session.save_path"] || "");
      if (save.includes(`${l.releases}/`) || save.includes(`${l.current}/`)) {
        add(
          "error",
          "sessions",
          `${pool.address}: session.save_path ${save} is inside a release: sessions are lost on every deploy`,
          "store sessions under shared/ or outside the deploy path",
        );
      }
    }
  });
}
