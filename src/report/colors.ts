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

/**
 * Control characters other than newline and tab, and escape sequences other than our own colours
 * (the codes of bold, dim, red, green and yellow, each alone), made visible: text read from hosts
 * (metadata, history, lock owners) cannot move the cursor, retitle the terminal or hide lines
 * (conceal, black on black).
 */
export function neutralizeControls(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    /\x1b\[(?:1|2|22|31|32|33|39)m|[\x00-\x08\x0b-\x1f\x7f-\x9f]/g,
    (m) => (m.length > 1 ? m : `\\x${m.charCodeAt(0).toString(16).padStart(2, "0")}`),
  );
}

/**
 * A file name from a host as shown in a line of output: one with a newline or another control
 * character would cut the line in two and print lines of the host's choosing, so it is quoted.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
export const nameText = (name: string) => (/[\x00-\x1f\x7f-\x9f]/.test(name) ? JSON.stringify(name) : name);
