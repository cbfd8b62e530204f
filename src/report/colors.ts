import pc from "picocolors";

/**
 * Renderers always colour their text; whether a stream shows the colours is decided once, where text
 * is written (cli/output.ts), so NO_COLOR, FORCE_COLOR and pipes are handled in one place.
 */
export const colors = pc.createColors(true);

export function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI colour codes is the point
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}
