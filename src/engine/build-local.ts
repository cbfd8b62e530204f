import { spawn } from "node:child_process";
import { lstatSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import {
  commandLineUrl,
  credentialEnv,
  localSubmoduleRefusal,
  submoduleProtocols,
} from "../config/git-source.js";
import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT } from "../errors.js";
import { GIT_ENV } from "../git/resolve.js";
import { buildManifest, manifestProbe, parseListing } from "../plan/manifest.js";
import type { Emit } from "./events.js";
import { makeRunDir } from "./run-dirs.js";
import { timed } from "./steps.js";

const LOCAL = "local build";

export interface LocalBuild {
  readonly dir: string;
  readonly checksum: string;
  /** strategy: git: the commit's author, date and subject as `git log` printed them (see withCommitDetails). */
  readonly commitDetails?: string;
  /** Removes the temp directory (the build and, for git, the fetched objects). */
  cleanup(): void;
}

type Limits = { readonly timeoutMs: number; readonly signal?: AbortSignal };

/** A local command of the build, its output as latin1 (exported for its test). */
export function runLocal(
  file: string,
  args: readonly string[],
  options: {
    cwd?: string;
    timeoutMs: number;
    emit?: Emit;
    env?: Record<string, string>;
    /** Ctrl-C: the command's whole process group is killed (it runs detached from the terminal's). */
    signal?: AbortSignal;
  },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], {
      cwd: options.cwd,
      env: { ...process.env, ...GIT_ENV, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    let err = "";
    // Heard first: a spawn that fails for want of descriptors has no pipes, and its error event,
    // unheard, would end cutover with a stack trace.
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(Object.assign(e, { stderr: err }));
    });
    const lines = (stream: "stdout" | "stderr", chunk: string) => {
      for (const line of chunk.split("\n"))
        if (line) options.emit?.({ type: "output", host: LOCAL, stream, line });
    };
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString("latin1");
      if (options.emit) lines("stdout", c.toString());
    });
    child.stderr?.on("data", (c: Buffer) => {
      err += c.toString();
      if (options.emit) lines("stderr", c.toString());
    });
    const kill = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    };
    const timer = setTimeout(kill, options.timeoutMs);
    options.signal?.addEventListener("abort", kill, { once: true });
    if (options.signal?.aborted) kill();
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", kill);
      if (code === 0) resolve(out);
      else reject(Object.assign(new Error(signal ? `killed by ${signal}` : `exit ${code}`), { stderr: err }));
    });
  });
}

function failure(title: string, error: unknown, fix: string, shown?: [string, string]): CutoverError {
  let stderr = String((error as { stderr?: string }).stderr ?? "").trim();
  if (shown) stderr = stderr.split(shown[0]).join(shown[1]);
  return new CutoverError("build", `${title} (${(error as Error).message})`, {
    state: "nothing was changed on any host",
    fix,
    detail: stderr ? stderr.split("\n").slice(-8) : undefined,
    exitCode: EXIT.failed,
  });
}

/** A submodule clone git refused for its local URL (protocol.file.allow), as a one-line error naming it. */
function refusedSubmodule(error: unknown, checkout: string): CutoverError | undefined {
  const stderr = String((error as { stderr?: string }).stderr ?? "");
  const clone = /^fatal: clone of '(.*)' into submodule path '(.*)' failed$/m.exec(stderr);
  if (!clone || !stderr.includes("transport 'file' not allowed")) return undefined;
  const submodule = path.relative(checkout, clone[2]!);
  const { message, fix } = localSubmoduleRefusal(submodule, clone[1]!);
  return new CutoverError("build", message, {
    state: "nothing was changed on any host",
    fix,
    exitCode: EXIT.failed,
  });
}

/** The commit, exported from a throwaway bare repository into `dir` (no checkout, no working tree). */
async function exportCommit(stage: ResolvedStage, commit: string, temp: string, dir: string, limits: Limits) {
  const git = stage.git!;
  const repo = path.join(temp, "repo.git");
  const shown: [string, string] = [git.repository, git.shown];
  // A token stays out of the process list and off disk: the URL without it, the credentials in the environment.
  const url = commandLineUrl(git.repository);
  const env = { ...credentialEnv(git.repository), GIT_NO_REPLACE_OBJECTS: "1" };
  const g = (args: string[]) =>
    runLocal(
      "git",
      ["-c", "core.hooksPath=/dev/null", "-c", "tar.umask=0022", `--git-dir=${repo}`, ...args],
      {
        ...limits,
        env,
      },
    );
  try {
    await runLocal("git", ["init", "-q", "--bare", "--", repo], limits);
    await g([
      "fetch",
      "-q",
      "--no-tags",
      "--",
      url,
      "+refs/heads/*:refs/heads/*",
      "+refs/tags/*:refs/tags/*",
    ]);
    await g(["cat-file", "-e", `${commit}^{commit}`]).catch(() =>
      g(["fetch", "-q", "--no-tags", "--", url, commit]),
    );
    const details = await g([
      "log",
      "-1",
      "--no-show-signature",
      "--format=%an <%ae>%x00%aI%x00%s",
      commit,
      "--",
    ]);
    if (git.submodules) {
      // A throwaway checkout with its submodules (relative URLs resolve against the repository), copied without .git.
      const src = path.join(temp, "checkout");
      // protocol.*.allow given here, whatever this machine's git config says (see submoduleProtocols).
      const w = (args: string[], extraEnv: Record<string, string> = {}) =>
        runLocal(
          "git",
          [
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "advice.detachedHead=false",
            ...submoduleProtocols(git),
            "-C",
            src,
            ...args,
          ],
          { ...limits, env: { ...env, ...extraEnv } },
        );
      await runLocal("git", ["clone", "-q", "--shared", "--no-checkout", "--", repo, src], {
        ...limits,
        env,
      });
      await w(["remote", "set-url", "origin", url]);
      await w(["checkout", "-q", commit]);
      await w(["submodule", "update", "-q", "--init", "--recursive"], { LC_ALL: "C" }).catch((error) => {
        throw refusedSubmodule(error, src) ?? error;
      });
      const from = git.path ? path.join(src, git.path) : src;
      await runLocal("rsync", ["-a", "--exclude=.git", "--", `${from}/`, `${dir}/`], limits);
    } else {
      const tree = git.path ? `${commit}:${git.path}` : commit;
      await g(["archive", "--format=tar", "-o", path.join(temp, "export.tar"), tree]);
      await runLocal(
        "tar",
        ["-x", "--no-same-owner", "-f", path.join(temp, "export.tar"), "-C", dir],
        limits,
      );
    }
    return Buffer.from(details, "latin1").toString("utf8");
  } catch (error) {
    if (error instanceof CutoverError) throw error; // already says what and where
    throw failure(
      `cannot export commit ${commit} of ${git.shown} for the local build`,
      error,
      "check the repository and repository_path",
      shown,
    );
  }
}

/**
 * Build once: a clean export (git: the resolved commit; otherwise the source without its excluded
 * paths) in a temp directory, `build.local` run there once, shared paths taken out (they live on
 * the hosts), and the manifest checksum every host's upload must match.
 */
export async function buildLocally(
  stage: ResolvedStage,
  commit: string | undefined,
  emit: Emit,
  signal?: AbortSignal,
): Promise<LocalBuild> {
  const limits: Limits = { timeoutMs: stage.commandTimeoutSeconds * 1000, signal };
  const temp = makeRunDir("build");
  const cleanup = () => rmSync(temp, { recursive: true, force: true });
  const dir = path.join(temp, "build");
  mkdirSync(dir);
  try {
    const commitDetails = await timed(emit, LOCAL, "export the source", async () => {
      if (stage.git && commit) return exportCommit(stage, commit, temp, dir, limits);
      await runLocal(
        "rsync",
        ["-a", ...stage.exclude.map((x) => `--exclude=${x}`), "--", `${stage.source}/`, `${dir}/`],
        limits,
      ).catch((e) => {
        throw failure(`cannot copy ${stage.source} for the local build`, e, "check the source directory");
      });
      return undefined;
    });
    for (const line of stage.buildLocal) {
      await timed(emit, LOCAL, `build: ${line}`, () =>
        runLocal("sh", ["-c", line], { cwd: dir, ...limits, emit, env: { CUTOVER_STAGE: stage.name } }).catch(
          (e) => {
            throw failure(`build.local command failed: ${line}`, e, "fix the build; nothing was uploaded");
          },
        ),
      );
    }
    for (const p of [...stage.sharedDirs, ...stage.sharedFiles]) removeInside(dir, p);
    const probe = manifestProbe(dir);
    const listing = await runLocal(probe.argv[0]!, probe.argv.slice(1), limits);
    const { checksum } = buildManifest(parseListing(Buffer.from(listing, "latin1").toString("utf8")), []);
    return { dir, checksum, commitDetails, cleanup };
  } catch (error) {
    cleanup();
    if (signal?.aborted)
      throw new CutoverError("interrupted", "interrupted by a signal during the local build", {
        state: "nothing was changed on any host",
        exitCode: EXIT.interrupted,
      });
    throw error;
  }
}

/** Removes `p` under `dir` unless a parent is not a real directory (a symlink the build made is never followed). */
function removeInside(dir: string, p: string): void {
  const parts = p.split("/");
  for (let i = 1; i < parts.length; i++) {
    try {
      if (!lstatSync(path.join(dir, ...parts.slice(0, i))).isDirectory()) return;
    } catch {
      return;
    }
  }
  rmSync(path.join(dir, p), { recursive: true, force: true });
}
