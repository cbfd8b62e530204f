import type { EngineEvent } from "../engine/events.js";
import { colors as pc, stripAnsi } from "./colors.js";

export interface RenderOptions {
  readonly verbose: boolean;
  readonly quiet: boolean;
  readonly write: (text: string) => void;
}

/** Progress lines for people, on stderr: phases, steps with timings, warnings; output with -v. */
export function progressRenderer(options: RenderOptions): (event: EngineEvent) => void {
  const { write, verbose, quiet } = options;
  return (event) => {
    switch (event.type) {
      case "phase":
        if (!quiet) write(`${pc.bold("▸")} ${pc.bold(event.phase)}\n`);
        break;
      case "step":
        if (quiet) break;
        if (event.status === "ok")
          write(`  ${pc.green("✓")} ${pc.dim(event.host)} ${event.step} ${pc.dim(`${event.ms} ms`)}\n`);
        else if (event.status === "failed")
          write(`  ${pc.red("✗")} ${pc.dim(event.host)} ${event.step} ${pc.dim(`${event.ms} ms`)}\n`);
        else if (verbose) write(`  ${pc.dim("…")} ${pc.dim(event.host)} ${event.step}\n`);
        break;
      case "output":
        if (verbose) write(`    ${pc.dim(`${event.host} |`)} ${event.line}\n`);
        break;
      case "warning": {
        // Step errors passed on as warnings already start with their host.
        const named = !event.host || event.message.startsWith(`${event.host}: `);
        write(`${pc.yellow("warning:")} ${named ? "" : `${event.host}: `}${event.message}\n`);
        break;
      }
      case "info":
        if (!quiet) write(`${event.host ? `${event.host}: ` : ""}${event.message}\n`);
        break;
    }
  };
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** A cell on one line: a line break in text from a host (a `who`, a subject) would forge a row. */
const oneLine = (cell: string) =>
  cell.replace(/[\n\r]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

export function table(input: readonly (readonly string[])[]): string {
  const rows = input.map((r) => r.map(oneLine));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => stripAnsi(r[i] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell + " ".repeat(widths[i]! - stripAnsi(cell).length))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
