import path from "node:path/posix";
import type { ResolvedHost, ResolvedStage, SharedAccess } from "../config/resolve.js";
import { CutoverError, EXIT } from "../errors.js";
import { type Cmd, cmd } from "../shell/cmd.js";
import type { SourceFacts } from "./deploy.js";
import type { HostFacts } from "./facts.js";
import type { Layout } from "./layout.js";
import { accessInShared } from "./release-paths.js";
import type { Step } from "./steps.js";

/**
 * The shared paths a host lacks, for every strategy: seeded from the source (a transfer each), or
 * made (an empty directory); the mode and owner they get then; and the refusals (a shared file
 * that exists nowhere, a path of the wrong kind). Existing shared data is never touched.
 */
export function sharedSetup(
  stage: ResolvedStage,
  host: ResolvedHost,
  facts: HostFacts,
  source: SourceFacts,
  l: Layout,
): { seeds: Step[]; make: Cmd[]; access: Cmd[] } {
  const seeds: Step[] = [];
  const make: Cmd[] = [];
  const access: Cmd[] = [];
  const entries = [
    ...stage.sharedDirs.map((p) => ({ p, directory: true })),
    ...stage.sharedFiles.map((p) => ({ p, directory: false })),
  ];
  for (const { p, directory } of entries) {
    const onHost = facts.shared.get(p) ?? "missing";
    const inSource = source.paths.get(p) ?? "missing";
    const target = path.join(l.shared, p);
    if (onHost === "missing") {
      access.push(...accessCmds(l.shared, p, stage.sharedAccess.get(p)));
      if (inSource === (directory ? "dir" : "file")) {
        seeds.push({
          kind: "transfer",
          title: `seed shared/${p} from the source`,
          transfer: {
            from: path.join(stage.source, p),
            to: target,
            directory,
            linkDest: [],
            exclude: [],
            compare: "mtime",
          },
        });
      } else if (directory) {
        make.push(cmd(["mkdir", "-p", "--", target]));
      } else if (stage.git) {
        throw new CutoverError("config", `${host.name}: shared file "${p}" is not in ${l.shared}/`, {
          fix: `create ${target} on ${host.name} (e.g. copy your .env there); strategy: git never seeds shared files`,
          exitCode: EXIT.usage,
        });
      } else {
        throw new CutoverError(
          "config",
          `${host.name}: shared file "${p}" exists neither in ${l.shared}/ nor in the source (${stage.source})`,
          {
            fix: `create ${target} on ${host.name} (e.g. copy your .env there), or add it to the source`,
            exitCode: EXIT.usage,
          },
        );
      }
    } else if (onHost !== (directory ? "dir" : "file")) {
      throw new CutoverError(
        "target",
        `${host.name}: ${target} is a ${onHost}, but ${directory ? "shared_dirs" : "shared_files"} lists it`,
        {
          fix: `make ${target} a ${directory ? "directory" : "regular file"}, or move the entry to ${directory ? "shared_files" : "shared_dirs"}`,
          exitCode: EXIT.usage,
        },
      );
    }
  }
  return { seeds, make, access };
}

/** A shared path's configured mode and owner, set once, when cutover has just created or seeded it. */
function accessCmds(sharedDir: string, p: string, access: SharedAccess | undefined): Cmd[] {
  if (!access) return [];
  const owner =
    access.owner || access.group ? `${access.owner ?? ""}${access.group ? `:${access.group}` : ""}` : "";
  return [accessInShared(sharedDir, p, access.mode ?? "", owner)];
}
