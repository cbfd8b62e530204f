import { execFile } from "node:child_process";
import { lstatSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ResolvedStage } from "../config/resolve.js";
import type { SourceFacts } from "../plan/deploy.js";
import type { Revision } from "../plan/release-meta.js";
import { quote } from "../shell/quote.js";

export function whoAmI(): string {
  return `${os.userInfo().username}@${os.hostname()}`;
}

/** git's answer, trimmed; rejects when git fails (not a checkout, no git). */
function git(dir: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // A dirty tree with many untracked files prints a lot: past the 1 MiB default, git would "fail".
    execFile("git", ["-C", dir, ...args], { maxBuffer: 1 << 28 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout.trim()),
    );
  });
}

/**
 * The checkout's commit and whether it has changes, from one git process (the commit is in the
 * header, each change a line of its own). Not a blocking call: `git status` reads every file's
 * stamps, and meanwhile the hosts' SSH handshakes and the source's index go on. No commit yet
 * ("(initial)"), not a checkout or no git: no revision.
 */
async function gitRevision(dir: string): Promise<Revision | null> {
  try {
    // No optional locks: reading the status does not rewrite the user's .git/index. No ahead/behind
    // counts: --branch would walk every commit between the branch and its upstream for them.
    const status = await git(dir, [
      "--no-optional-locks",
      "status",
      "--porcelain=v2",
      "--branch",
      "--no-ahead-behind",
      "--",
      ".",
    ]);
    const commit = /^# branch\.oid ([0-9a-f]{40,64})$/m.exec(status)?.[1];
    return commit ? { commit, dirty: /^[^#]/m.test(status) } : null;
  } catch {
    return null;
  }
}

/** What the source has at `p`; a path reached through a symlinked parent is not in the source. */
function kindOf(source: string, p: string): "dir" | "file" | "missing" {
  try {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) {
      if (!lstatSync(path.join(source, ...parts.slice(0, i))).isDirectory()) return "missing";
    }
    return lstatSync(path.join(source, p)).isDirectory() ? "dir" : "file";
  } catch {
    return "missing";
  }
}

export async function sourceFacts(stage: ResolvedStage): Promise<SourceFacts> {
  const paths = new Map<string, "dir" | "file" | "missing">();
  for (const p of [...stage.sharedDirs, ...stage.sharedFiles]) {
    paths.set(p, kindOf(stage.source, p));
  }
  return { revision: await gitRevision(stage.source), paths };
}

/**
 * rsync gives each release directory the source directory's own mode: a source only its owner may
 * enter (a `mktemp -d` checkout is 0700) makes releases a web server or php-fpm running as another
 * user cannot enter. Said before anything changes, with the fix.
 */
export function privateSourceWarning(source: string): string | undefined {
  let mode: number;
  try {
    mode = statSync(source).mode & 0o7777;
  } catch {
    return undefined; // the upload says what is wrong with the source
  }
  if ((mode & 0o011) !== 0) return undefined;
  const octal = mode.toString(8).padStart(4, "0");
  return `${source} has mode ${octal}, and each release directory gets it: a web server or php-fpm running as another user cannot enter the release (403 or 404); chmod 755 ${quote(source)} (or 750 with the web server's group) before deploying`;
}
