import { spawn } from "node:child_process";
import { commandLineUrl, credentialEnv } from "../config/git-source.js";
import { CutoverError, EXIT } from "../errors.js";

/** A ref of the repository resolved to one commit: every host of a deploy extracts exactly this. */
export interface ResolvedRef {
  readonly commit: string;
  /** The ref it came from (refs/heads/main, refs/tags/v1, HEAD); absent for a commit id given as such. */
  readonly refName?: string;
}

const FULL_COMMIT = /^[0-9a-f]{40}$/;
/** Bounds on what git may print: a listing of the few refs asked for is small, errors are read from the end. */
const MAX_LISTING = 4 * 1024 * 1024;
const MAX_STDERR = 64 * 1024;

/** git without prompts: a missing credential is an error, never a deploy waiting on a terminal. */
export const GIT_ENV = { GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "true", SSH_ASKPASS: "true" } as const;

/**
 * Runs git detached from the terminal (its own session): ssh cannot stop a deploy with a host key
 * or passphrase prompt, it fails instead. Killed with its process group after `timeoutMs`, or on
 * `signal` (a signal sent to cutover does not reach a process of another session).
 */
function git(
  args: readonly string[],
  timeoutMs: number,
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", [...args], {
      env: { ...process.env, ...GIT_ENV, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    // The remote decides what git prints: a listing past its bound stops git, stderr keeps its tail.
    let stdout = "";
    let stderr = "";
    let stopped = "";
    const kill = (why: string) => {
      if (stopped) return;
      stopped = why;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    };
    // Listened to first: when spawn fails for want of descriptors (EMFILE), there are no pipes and
    // the error event comes on the next tick; unheard, it would kill the agent.
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(
        Object.assign(e, {
          stderr:
            (e as NodeJS.ErrnoException).code === "ENOENT"
              ? "git is not installed on this machine"
              : e.message,
        }),
      );
    });
    child.stdout?.on("data", (c: Buffer) => {
      if (stopped) return;
      stdout += c.toString();
      if (stdout.length > MAX_LISTING)
        kill(`git ls-remote printed more than ${MAX_LISTING / 1024 / 1024} MiB and was stopped`);
    });
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
      // Cut at a line start: a line cut in half could keep part of a secret the redactor misses.
      if (stderr.length > MAX_STDERR) {
        const start = stderr.indexOf("\n", stderr.length - MAX_STDERR);
        stderr = start < 0 ? "" : stderr.slice(start + 1);
      }
    });
    const timer = setTimeout(
      () => kill(`git ls-remote took longer than ${Math.round(timeoutMs / 1000)} s and was stopped`),
      timeoutMs,
    );
    const interrupt = () => kill("interrupted by a signal");
    signal?.addEventListener("abort", interrupt, { once: true });
    if (signal?.aborted) interrupt();
    child.on("close", (code) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", interrupt);
      if (stopped) stderr += `\n${stopped}`;
      if (code === 0 && !stopped) resolve({ stdout, stderr });
      else reject(Object.assign(new Error(`git exited with ${code}`), { stderr }));
    });
  });
}

/**
 * Parses `git ls-remote` output into ref name → commit; an annotated tag's peeled line (`^{}`)
 * replaces the tag object, so a tag resolves to the commit it names.
 */
export function parseLsRemote(text: string): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]{40})\t(\S+)$/.exec(line);
    if (!m) continue;
    const [, sha, name] = m as unknown as [string, string, string];
    if (name.endsWith("^{}")) refs.set(name.slice(0, -3), sha);
    else if (!refs.has(name)) refs.set(name, sha);
  }
  return refs;
}

/** The full ref names a ref may mean: HEAD or refs/... as given, else a tag or a branch of that name. */
function candidates(ref: string): string[] {
  return ref === "HEAD" || ref.startsWith("refs/") ? [ref] : [`refs/tags/${ref}`, `refs/heads/${ref}`];
}

/**
 * Which listed ref a name means (see candidates). A short name that is both a tag and a branch is
 * refused rather than guessed: git would take the tag, so anyone who can push a tag named like the
 * deployed branch could choose the commit.
 */
export function pickRef(
  refs: ReadonlyMap<string, string>,
  ref: string,
  shown = "the repository",
): ResolvedRef | undefined {
  const found = candidates(ref).flatMap((name) => {
    const commit = refs.get(name);
    return commit ? [{ commit, refName: name }] : [];
  });
  if (found.length > 1)
    throw new CutoverError("git", `ref "${ref}" is both a branch and a tag of ${shown}`, {
      state: "nothing was changed on any host",
      fix: `write refs/heads/${ref} or refs/tags/${ref} (in ref: or --ref) to say which one to deploy`,
      exitCode: EXIT.usage,
    });
  return found[0];
}

/**
 * Resolves `ref` of `repository` to a commit on this machine (no checkout needed: `git ls-remote`).
 * A full 40-character commit id means exactly that commit (the hosts check they have it).
 * `shown` is the repository as it may be printed (no credentials).
 */
export async function resolveRef(
  repository: string,
  ref: string,
  options: { shown?: string; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<ResolvedRef> {
  const shown = options.shown ?? repository;
  if (FULL_COMMIT.test(ref)) return { commit: ref };
  if (ref.startsWith("-") || /[\s\0]/.test(ref))
    throw new CutoverError("usage", `ref "${ref}" is not a branch, tag or commit id`, {
      fix: "give a branch, a tag or a full 40-character commit id",
      exitCode: EXIT.usage,
    });
  let listing: string;
  try {
    // A peeled line (`^{}`: the commit an annotated tag names) is only listed when asked for.
    const patterns = candidates(ref).flatMap((r) => [r, `${r}^{}`]);
    // A token stays out of the process list: the URL without it, the credentials in the environment.
    const url = commandLineUrl(repository);
    const env = credentialEnv(repository);
    const timeoutMs = options.timeoutMs ?? 120_000;
    listing = (await git(["ls-remote", "--", url, ...patterns], timeoutMs, env, options.signal)).stdout;
  } catch (error) {
    if (options.signal?.aborted)
      throw new CutoverError("interrupted", `interrupted by a signal while reading ${shown}`, {
        state: "nothing was changed on any host",
        exitCode: EXIT.interrupted,
      });
    const stderr = String((error as { stderr?: string }).stderr ?? "")
      .split(repository)
      .join(shown)
      .trim();
    throw new CutoverError("git", `cannot read repository ${shown} (git ls-remote failed)`, {
      state: "nothing was changed on any host",
      fix: "check the repository URL or path, and that this machine can reach it (keys, network)",
      detail: stderr ? stderr.split("\n").slice(-5) : undefined,
      exitCode: EXIT.failed,
    });
  }
  const found = pickRef(parseLsRemote(listing), ref, shown);
  if (found) return found;
  throw new CutoverError("git", `ref "${ref}" is not a branch or tag of ${shown}`, {
    state: "nothing was changed on any host",
    fix: /^[0-9a-f]{4,39}$/.test(ref)
      ? "an abbreviated commit id cannot be resolved remotely: give the full 40-character id"
      : "give an existing branch, tag or full 40-character commit id (`git ls-remote` lists them)",
    exitCode: EXIT.usage,
  });
}
