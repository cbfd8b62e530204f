import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface GitOrigin {
  /** The bare repository hosts fetch from. */
  readonly bare: string;
  /** Runs git in the working clone (as the author); returns its trimmed output. */
  git(...args: string[]): string;
  /** Commits the files (path → content; null removes) and pushes the branch; returns the commit id. */
  commit(files: Record<string, string | null>, message: string, branch?: string): string;
  /** An annotated tag on the branch's tip, pushed. */
  tag(name: string, branch?: string): void;
  /** Rewrites the branch to a new commit whose parent is `parent`, force-pushed; returns it. */
  forcePush(parent: string, files: Record<string, string | null>, message: string, branch?: string): string;
}

/** A real git origin: a working clone that commits, and a bare repository it pushes to, under `dir`. */
export function gitOrigin(dir: string): GitOrigin {
  const work = path.join(dir, "work tree");
  const bare = path.join(dir, "origin ü.git");
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", work, ...args], {
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "Ada Author",
        GIT_AUTHOR_EMAIL: "ada@example.test",
        GIT_COMMITTER_NAME: "Ada Author",
        GIT_COMMITTER_EMAIL: "ada@example.test",
      },
    })
      .toString()
      .trim();
  mkdirSync(work, { recursive: true });
  execFileSync("git", ["init", "-q", "-b", "main", work]);
  execFileSync("git", ["init", "-q", "--bare", "-b", "main", bare]);
  git("remote", "add", "origin", bare);
  const write = (files: Record<string, string | null>) => {
    for (const [p, content] of Object.entries(files)) {
      const full = path.join(work, p);
      if (content === null) rmSync(full, { force: true });
      else {
        mkdirSync(path.dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
    git("add", "-A");
  };
  let empty = true;
  const commit = (files: Record<string, string | null>, message: string, branch = "main") => {
    if (!empty) git("checkout", "-q", ...(git("branch", "--list", branch) === "" ? ["-b"] : []), branch);
    empty = false;
    write(files);
    git("commit", "-q", "--allow-empty", "-m", message);
    git("push", "-q", "origin", branch);
    return git("rev-parse", "HEAD");
  };
  return {
    bare,
    git,
    commit,
    tag: (name, branch = "main") => {
      git("tag", "-a", name, "-m", `tag ${name}`, branch);
      git("push", "-q", "origin", `refs/tags/${name}`);
    },
    forcePush: (parent, files, message, branch = "main") => {
      git("checkout", "-q", branch);
      git("reset", "-q", "--hard", parent);
      write(files);
      git("commit", "-q", "--allow-empty", "-m", message);
      git("push", "-q", "--force", "origin", branch);
      return git("rev-parse", "HEAD");
    },
  };
}
