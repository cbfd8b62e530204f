import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError } from "../errors.js";
import { parseReports, type RuntimeReport } from "../integrations/php/runtime-script.js";
import {
  askPool,
  installRuntime,
  type RuntimeFiles,
  removeRuntime,
  requestScript,
  runtimeFiles,
} from "../integrations/php/steps.js";
import { apacheChildren, parseChildren, waitForExit } from "../integrations/web/apache.js";
import type { Layout } from "../plan/layout.js";
import { cmd } from "../shell/cmd.js";
import { quote } from "../shell/quote.js";
import type { Emit } from "./events.js";
import { onEveryHost } from "./every-host.js";
import type { LockedTarget } from "./lock.js";
import {
  describe,
  type OpcacheOff,
  opcacheOff,
  realpathStale,
  refuseUnresettable,
  unreadable,
} from "./php-stale.js";
import { runStep, type StepContext, timed } from "./steps.js";
import type { Target } from "./targets.js";

export type Host = Target & { readonly layout: LockedTarget["layout"] };

/**
 * php.fpm sockets and php.reload_command may name the host ({name}): several slots on one machine.
 * The reload command is shell text (run by `sh -c`), so there the name goes in shell-quoted: one
 * word, whatever characters it has.
 */
export function phpOfHost(stage: ResolvedStage, host: { readonly name: string }): ResolvedStage {
  const php = stage.php;
  return {
    ...stage,
    php: {
      ...php,
      // Replacer functions: a replacement string would read "$'" or "$&" in a name as patterns.
      pools: php.pools.map((p) => ({ ...p, address: p.address.replaceAll("{name}", () => host.name) })),
      reloadCommand: php.reloadCommand?.replaceAll("{name}", () => quote(host.name)),
    },
  };
}

/** Installs the PHP helper files, runs `work` with them, and removes them whatever happens. */
export async function withRuntime<T>(
  ctx: StepContext,
  l: Layout,
  files: RuntimeFiles,
  release: string,
  work: () => Promise<T>,
  warmup: readonly string[] = [],
): Promise<T> {
  try {
    await runStep(ctx, "install PHP helpers", installRuntime(l, files, release, warmup));
    return await work();
  } finally {
    await ctx.executor.run([removeRuntime(files)]).catch(() => undefined);
  }
}

/**
 * Before anything changes: `reset: reload` gracefully reloads php-fpm, which kills the requests still
 * running after the master's process_control_timeout, and that is 0 (at once: 502s) unless set.
 * Refused there unless forced; a master whose setting cannot be read gets a warning.
 */
export async function refuseUnsafeReload(
  targets: readonly Host[],
  stage: ResolvedStage,
  force: boolean,
  emit: Emit,
): Promise<void> {
  const pools = stage.php.pools.filter((p) => p.reset === "reload");
  if (pools.length === 0) return;
  await onEveryHost(targets, async (t) => {
    const { php } = phpOfHost(stage, t.host);
    const files = runtimeFiles(t.layout, `check-${process.pid}`);
    const ctx = { executor: t.executor, emit };
    await withRuntime(ctx, t.layout, files, "", async () => {
      for (const pool of php.pools.filter((p) => p.reset === "reload")) {
        const { stdout } = await runStep(ctx, `check ${pool.address} before reloads`, [
          askPool(php, files, pool, "status"),
        ]);
        const fpm = parseReports(stdout.toString("utf8"))[0]?.fpm;
        const timeout = fpm?.process_control_timeout;
        const where = `${t.host.name}: php.fpm ${pool.address} has reset: reload`;
        if (timeout === 0 && !force) {
          throw new CutoverError(
            "unsafe-reload",
            `${where}, but php-fpm's process_control_timeout is 0 (${fpm!.config}): a reload kills the requests in flight (502)`,
            {
              fix: `set process_control_timeout = 10s in [global] of ${fpm!.config} (the pool still stalls while it drains), use reset: opcache, or pass --force`,
              state: "nothing was changed",
            },
          );
        }
        if (!timeout) {
          emit({
            type: "warning",
            host: t.host.name,
            message:
              timeout === 0
                ? `${where} with process_control_timeout 0 (--force): requests in flight at the reload fail`
                : `${where}: cannot read php-fpm's process_control_timeout; if it is 0, a reload kills requests in flight`,
          });
        }
      }
    });
  });
}

/** Compiles the new release's PHP files into every pool's OPcache before the switch. */
export async function warmUp(t: Host, stageOfAll: ResolvedStage, release: string, emit: Emit): Promise<void> {
  const stage = phpOfHost(stageOfAll, t.host);
  const files = runtimeFiles(t.layout, release);
  const ctx = { executor: t.executor, emit };
  const warmEach = async () => {
    for (const pool of stage.php.pools) {
      const { stdout } = await runStep(ctx, `warm up ${pool.address}`, [
        askPool(stage.php, files, pool, "warmup"),
      ]);
      const [report] = parseReports(stdout.toString("utf8"));
      if (report && (report.failed?.length ?? 0) > 0) {
        emit({
          type: "warning",
          host: t.host.name,
          message: `warm-up could not compile ${report.failed!.length} file(s) in ${pool.address}, e.g. ${report.failed![0]}`,
        });
      }
    }
  };
  await withRuntime(ctx, t.layout, files, release, warmEach, stage.php.warmup);
}

/** Smoke checks through FastCGI: the new release's own scripts, while the old one still serves. */
export async function smokeHttp(
  t: Host,
  stageOfAll: ResolvedStage,
  release: string,
  emit: Emit,
): Promise<void> {
  const stage = phpOfHost(stageOfAll, t.host);
  const files = runtimeFiles(t.layout, release);
  const pool = stage.php.pools[0]!;
  const ctx = { executor: t.executor, emit };
  await withRuntime(ctx, t.layout, files, release, async () => {
    for (const check of stage.smoke.http) {
      const script = `${t.layout.release(release)}/${check.path}`;
      const { stdout } = await runStep(ctx, `smoke ${check.path}`, [
        requestScript(stage.php, files, pool.address, script),
      ]);
      if (check.expectBody !== undefined && !new RegExp(check.expectBody).test(stdout.toString("utf8"))) {
        throw new CutoverError(
          "smoke",
          `${t.host.name}: smoke ${check.path}: the body does not match /${check.expectBody}/`,
          {
            detail: stdout.toString("utf8").slice(0, 400).split("\n"),
          },
        );
      }
    }
  });
}

/**
 * mod_php keeps OPcache and the realpath cache in Apache's children: a graceful reload starts new
 * ones. Returns once every child from before the reload has finished its request and exited.
 */
async function reloadApache(t: Host, stage: ResolvedStage, emit: Emit): Promise<void> {
  const ctx = { executor: t.executor, emit };
  await timed(emit, t.host.name, "reload Apache (mod_php)", async () => {
    const { stdout } = await runStep(ctx, "list Apache children", [apacheChildren()]);
    const before = parseChildren(stdout.toString("utf8"));
    await runStep(ctx, "php reload_command", [cmd(["sh", "-c", stage.php.reloadCommand!])]);
    if (before.length === 0) {
      emit({
        type: "warning",
        host: t.host.name,
        message: "php.mod_php: found no Apache children (apache2 or httpd) to wait for after the reload",
      });
      return;
    }
    const waited = await t.executor.run([waitForExit(before, stage.php.resetWaitSeconds)]);
    if (waited.code !== 0) {
      throw new CutoverError(
        "stale",
        `${t.host.name}: Apache children from before the reload still run after ${stage.php.resetWaitSeconds} s (php.reset_wait)`,
        {
          detail: [waited.stdout.toString("utf8").trim()],
          fix: "check that php.reload_command reloads the Apache that serves this path (apachectl graceful)",
        },
      );
    }
  });
}

/**
 * After a switch on one host: resets each pool as configured (OPcache reset through the pool's own
 * SAPI, or the reload command), then asks several workers of the pool which release `current`
 * resolves to for them; any worker on another release fails the step.
 */
export async function resetAndVerify(
  t: Host,
  stageOfAll: ResolvedStage,
  release: string,
  emit: Emit,
): Promise<void> {
  const stage = phpOfHost(stageOfAll, t.host);
  const ctx = { executor: t.executor, emit };
  if (stage.php.modPhp) await reloadApache(t, stage, emit);
  const pools = stage.php.pools.filter((p) => p.reset !== "none");
  if (pools.length === 0) return;
  const files = runtimeFiles(t.layout, release);
  await timed(emit, t.host.name, "reset PHP caches", () =>
    withRuntime(ctx, t.layout, files, release, async () => {
      for (const pool of pools) {
        let off: OpcacheOff | undefined;
        if (pool.reset === "opcache") {
          const { stdout } = await runStep(ctx, `reset OPcache of ${pool.address}`, [
            askPool(stage.php, files, pool, "reset"),
          ]);
          const answers = parseReports(stdout.toString("utf8"));
          refuseUnresettable(t, pool.address, answers);
          off = opcacheOff(answers);
        } else await runStep(ctx, "php reload_command", [cmd(["sh", "-c", stage.php.reloadCommand!])]);
        // With OPcache off only the realpath cache's own expiry brings the workers over: waiting
        // shorter than it keeps a mixed pool serving for nothing.
        const hopeless = off !== undefined && off.ttl > stage.php.resetWaitSeconds;
        // opcache_reset() only schedules a restart, done when no request is in flight: poll for it.
        const deadline = Date.now() + stage.php.resetWaitSeconds * 1000;
        let reports: RuntimeReport[] = [];
        let wrong: RuntimeReport[] = [];
        // In place, `current` is the one directory: only the completed OPcache restart shows the new code.
        const served = stage.strategy === "in-place" ? "/current" : `/releases/${release}`;
        for (;;) {
          // A reloaded master re-executes itself: until it accepts again, the connection fails; retried.
          const asked = await runStep(ctx, `verify ${pool.address}`, [
            askPool(stage.php, files, pool, "status", stage.php.verifyRequests),
          ]).catch((error: Error) => {
            if (pool.reset !== "reload" || Date.now() > deadline) throw error;
            return undefined;
          });
          const answer = asked?.stdout.toString("utf8") ?? "";
          reports = parseReports(answer);
          // The pool answered, but not with reports: asking again will not change that.
          if (asked && reports.length === 0) throw unreadable(t, pool.address, answer);
          wrong = reports.filter(
            (r) => typeof r.serving !== "string" || !r.serving.endsWith(served) || r.opcache?.restart_pending,
          );
          if ((reports.length > 0 && wrong.length === 0) || Date.now() > deadline || hopeless) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        if (off && wrong.length > 0) throw realpathStale(t, pool.address, off, describe(wrong));
        if (reports.length === 0 || wrong.length > 0) {
          throw new CutoverError(
            "stale",
            `${t.host.name}: php-fpm at ${pool.address} still serves another release after the reset`,
            {
              detail: [describe(wrong.length > 0 ? wrong : reports)],
              fix: "check `cutover doctor`: opcache.preload, or a pool that is not the one the web server uses",
            },
          );
        }
      }
    }),
  );
}
