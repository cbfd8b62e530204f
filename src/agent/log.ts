/** One event per line, as JSON: journald, jq and log shippers read it as is. */
export type Log = (level: "info" | "warn" | "error", event: string, fields?: Record<string, unknown>) => void;

/** Info to `out`, warnings and errors to `err`; the writers redact secrets. */
export function jsonLog(
  out: (line: string) => void,
  err: (line: string) => void,
  now = () => new Date(),
): Log {
  return (level, event, fields = {}) => {
    const line = `${JSON.stringify({ time: now().toISOString(), level, event, ...fields })}\n`;
    (level === "info" ? out : err)(line);
  };
}
