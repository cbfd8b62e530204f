import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { parse } from "yaml";
import { findConfigFile } from "../config/load.js";
import { EXIT, type ExitCode, usageError } from "../errors.js";
import { completionScript } from "./completion.js";
import type { CommandContext } from "./context.js";

export async function completionCommand(
  ctx: CommandContext,
  shell: string,
  program: Command,
): Promise<ExitCode> {
  if (shell !== "bash" && shell !== "zsh")
    throw usageError(`completion: unknown shell "${shell}"`, "use bash or zsh");
  const script = completionScript(shell, program);
  ctx.print(script.trimEnd(), { shell, script });
  return EXIT.ok;
}

/**
 * The stage (or component) names for completion, one a line. It reads only the `stages` keys, so a file that does
 * not validate yet (or needs unset environment variables) still completes.
 */
export async function namesCommand(ctx: CommandContext, key: "stages" | "components"): Promise<ExitCode> {
  const file = findConfigFile(ctx.global.config, process.cwd());
  const data = parse(readFileSync(file, "utf8")) as Record<
    string,
    Record<string, unknown> | undefined
  > | null;
  const names = Object.keys(data?.[key] ?? {});
  ctx.print(names.join("\n"), names);
  return EXIT.ok;
}
