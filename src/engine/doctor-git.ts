import type { ResolvedStage } from "../config/resolve.js";
import { resolveRef } from "../git/resolve.js";
import { gitCheckProbe, gitMirrorDir } from "../plan/git-steps.js";
import { layout } from "../plan/layout.js";
import type { Finding } from "./doctor.js";
import { onEveryHost } from "./every-host.js";
import { runStep } from "./steps.js";
import type { Target } from "./targets.js";

const MOVE_AWAY = "move it away (cutover makes a new mirror on the next deploy)";

/**
 * strategy: git: this machine resolves the ref, each host's git reaches the repository, and each
 * mirror is one a deploy will use (not a symlink, a bare repository of this repository, nothing
 * cutover did not write: see MIRROR_UNSAFE in plan/git-steps.ts).
 */
export async function gitFindings(stage: ResolvedStage, targets: readonly Target[]): Promise<Finding[]> {
  const git = stage.git;
  if (!git) return [];
  const findings: Finding[] = [];
  try {
    await resolveRef(git.repository, git.ref, { shown: git.shown, timeoutMs: 60_000 });
  } catch (error) {
    findings.push({
      host: "local",
      level: "error",
      check: "git",
      message: (error as Error).message,
      fix: "deploy resolves the ref on this machine: check the repository, the ref and this machine's access",
    });
  }
  // With build.local the build is uploaded: the hosts run no git and keep no mirror.
  if (stage.buildLocal.length > 0) return findings;
  await onEveryHost(targets, async (t) => {
    const l = layout(t.host.path);
    const add = (message: string, fix: string) =>
      findings.push({ host: t.host.name, level: "error", check: "git", message, fix });
    const { stdout } = await runStep({ executor: t.executor, emit: () => undefined }, "check git", [
      gitCheckProbe(l, git),
    ]);
    const mirror = gitMirrorDir(l);
    for (const line of stdout.toString("utf8").split("\n")) {
      if (line === "mirror symlink") add(`${mirror} is a symlink: deploys refuse it`, MOVE_AWAY);
      else if (line === "mirror notbare")
        add(`${mirror} is not a bare git repository: deploys refuse it`, MOVE_AWAY);
      else if (line.startsWith("mirror other "))
        add(
          `${mirror} mirrors another repository (${line.slice(13) || "unknown"}), not ${git.shown}`,
          MOVE_AWAY,
        );
      else if (line.startsWith("mirror unsafe "))
        add(`${mirror} has ${line.slice(14)}: deploys refuse it`, MOVE_AWAY);
      else if (line.startsWith("reach fail"))
        add(
          `the host's git cannot read ${git.shown}: ${line.slice(11).split(git.repository).join(git.shown).trim()}`,
          "install git on the host and give it access to the repository (a deploy key, ssh config, network)",
        );
    }
  });
  return findings;
}
