import path from "node:path/posix";
import type { ResolvedHost, ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT } from "../errors.js";
import { type Cmd, cmd } from "../shell/cmd.js";
import type { HostFacts } from "./facts.js";
import { ensureSharedLink, ensureWritable } from "./in-place-paths.js";
import type { Layout } from "./layout.js";
import { writeMeta } from "./records.js";
import type { ReleaseMeta } from "./release-meta.js";
import type { DeployRunInput } from "./run.js";
import type { Step } from "./steps.js";

/** Before the switch: cutover's directories, the metadata, seeded shared paths and their links, writable dirs. */
export function prepareSteps(
  stage: ResolvedStage,
  host: ResolvedHost,
  facts: HostFacts,
  input: DeployRunInput,
  meta: ReleaseMeta,
  l: Layout,
): Step[] {
  const sharedAll = [...stage.sharedDirs, ...stage.sharedFiles];
  const dirs = [l.current, l.shared, path.dirname(l.releaseMeta(meta.id)), l.tmp];
  const steps: Step[] = [
    {
      kind: "run",
      title: "prepare the live directory",
      cmds: [cmd(["mkdir", "-p", "--", ...dirs]), ...writeMeta(l, meta)],
    },
  ];
  const seed: Cmd[] = [];
  for (const p of sharedAll) {
    const directory = stage.sharedDirs.includes(p);
    const target = path.join(l.shared, p);
    if ((facts.shared.get(p) ?? "missing") !== "missing") continue;
    if ((input.source.paths.get(p) ?? "missing") === (directory ? "dir" : "file")) {
      seed.push(cmd(["mkdir", "-p", "--", path.dirname(target)]));
      steps.push({
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
    } else if (directory) seed.push(cmd(["mkdir", "-p", "--", target]));
    else
      throw new CutoverError(
        "config",
        `${host.name}: shared file "${p}" exists neither in ${l.shared}/ nor in the source (${stage.source})`,
        {
          fix: `create ${target} on ${host.name} (e.g. copy your .env there), or add it to the source`,
          exitCode: EXIT.usage,
        },
      );
  }
  if (seed.length > 0) steps.splice(1, 0, { kind: "run", title: "create shared paths", cmds: seed });
  const ensure = [
    ...sharedAll.map((p) => ensureSharedLink(l.current, p)),
    ...stage.writableDirs.map((w) =>
      ensureWritable(
        l.current,
        w.path,
        w.mode,
        w.owner || w.group ? `${w.owner ?? ""}${w.group ? `:${w.group}` : ""}` : "",
      ),
    ),
  ];
  if (ensure.length > 0)
    steps.push({
      kind: "run",
      title: "link shared paths and create writable dirs where missing",
      cmds: ensure,
    });
  return steps;
}
