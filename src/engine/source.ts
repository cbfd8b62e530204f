import { execFileSync } from "node:child_process";
import { lstatSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ResolvedStage } from "../config/resolve.js";
import type { SourceFacts } from "../plan/deploy.js";
import type { Revision } from "../plan/release-meta.js";

export function whoAmI(): string {
  return `${os.userInfo().username}@${os.hostname()}`;
}

function gitRevision(dir: string): Revision | null {
  try {
    const run = (args: string[]) =>
      execFileSync("git", ["-C", dir, ...args], { stdio: ["ignore", "pipe", "ignore"] })
        .toString()
        .trim();
    const commit = run(["rev-parse", "HEAD"]);
    const dirty = run(["status", "--porcelain", "--", "."]) !== "";
    return { commit, dirty };
  } catch {
    return null;
  }
}

function kindOf(p: string): "dir" | "file" | "missing" {
  try {
    const st = lstatSync(p);
    return st.isDirectory() ? "dir" : "file";
  } catch {
    return "missing";
  }
}

export function sourceFacts(stage: ResolvedStage): SourceFacts {
  const paths = new Map<string, "dir" | "file" | "missing">();
  for (const p of [...stage.sharedDirs, ...stage.sharedFiles, ...stage.writableDirs.map((w) => w.path)]) {
    paths.set(p, kindOf(path.join(stage.source, p)));
  }
  return { revision: gitRevision(stage.source), paths };
}
