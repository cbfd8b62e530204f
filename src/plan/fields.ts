/**
 * Where `marker` stands as a whole NUL-ended field of host output (at its start or right after a
 * NUL), or -1: a name or text that merely ends with the marker's text is not it.
 */
export function fieldAt(output: string, marker: string): number {
  if (output.startsWith(`${marker}\0`)) return 0;
  const at = output.indexOf(`\0${marker}\0`);
  return at < 0 ? -1 : at + 1;
}
