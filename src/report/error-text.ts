import { colors as pc } from "./colors.js";

/** The error block on stderr: the first line says what and where; then details, state and fix. */
export function errorText(
  message: string,
  more: { detail?: readonly string[]; state?: string; fix?: string } = {},
): string {
  const lines = [`${pc.red("error:")} ${message}`];
  for (const d of more.detail ?? []) lines.push(`  | ${d.replace(/\r$/, "")}`);
  if (more.state) lines.push(`  state: ${more.state}`);
  if (more.fix) lines.push(`  fix: ${more.fix}`);
  return `${lines.join("\n")}\n`;
}
