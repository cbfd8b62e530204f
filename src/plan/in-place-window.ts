/**
 * The window in which a request could see a mix of two builds: from the first file renamed into
 * the live directory (rsync --delay-updates renames them one by one at the end) to the last change
 * of any entry (the delayed deletions and directory times follow the renames). Times are the host's
 * clock, in ms since the epoch.
 */
export interface InPlaceWindow {
  readonly startMs: number;
  readonly endMs: number;
  readonly ms: number;
  /** Files and links that changed (renamed in, or their attributes set). */
  readonly files: number;
}

/**
 * Parses the measure program's output ("ctime type relpath", NUL-separated; read from the host, so
 * untrusted: anything malformed is skipped). Paths under `excluded` (shared and writable paths, which
 * the app may write at any time) do not count. Undefined when nothing changed.
 */
export function parseWindow(output: string, excluded: readonly string[]): InPlaceWindow | undefined {
  const under = (p: string) => excluded.some((e) => p === e || p.startsWith(`${e}/`));
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  let files = 0;
  for (const record of output.split("\0")) {
    const m = /^(\d{1,12}(?:\.\d{1,10})?) ([a-zA-Z]) (.*)$/s.exec(record);
    if (!m || under(m[3]!)) continue;
    const at = Number(m[1]) * 1000;
    end = Math.max(end, at);
    if (m[2] !== "d") {
      start = Math.min(start, at);
      files++;
    }
  }
  if (end === Number.NEGATIVE_INFINITY) return undefined;
  if (start === Number.POSITIVE_INFINITY) start = end;
  return { startMs: start, endMs: end, ms: Math.round((end - start) * 10) / 10, files };
}
