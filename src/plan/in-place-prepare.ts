import path from "node:path/posix";
import type { ResolvedHost, ResolvedStage } from "../config/resolve.js";
import { cmd } from "../shell/cmd.js";
import type { HostFacts } from "./facts.js";
import { ensureSharedLink, ensureWritable } from "./in-place-paths.js";
import type { Layout } from "./layout.js";
import { writeMeta } from "./records.js";
import type { ReleaseMeta } from "./release-meta.js";
import type { DeployRunInput } from "./run.js";
import { sharedSetup } from "./shared-setup.js";
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
  const setup = sharedSetup(stage, host, facts, input.source, l);
  // Seeds go to shared/<p>, whose parents may not exist yet.
  const parents = setup.seeds.flatMap((st) =>
    st.kind === "transfer" ? [cmd(["mkdir", "-p", "--", path.dirname(st.transfer.to)])] : [],
  );
  const make = [...parents, ...setup.make];
  if (make.length > 0) steps.push({ kind: "run", title: "create shared paths", cmds: make });
  steps.push(...setup.seeds);
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
      warns: true,
    });
  if (setup.access.length > 0)
    steps.push({ kind: "run", title: "set mode and owner of new shared paths", cmds: setup.access });
  return steps;
}
