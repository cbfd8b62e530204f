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

export function sourceFacts(stage: ResolvedStage): SourceFacts {
  const paths = new Map<string, "dir" | "file" | "missing">();
  for (const p of [...stage.sharedDirs, ...stage.sharedFiles]) {
    paths.set(p, kindOf(stage.source, p));
  }
  return { revision: gitRevision(stage.source), paths };
}
