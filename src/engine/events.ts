/** What the engine reports while it works. Renderers subscribe; the engine never prints. */
export type EngineEvent =
  | { readonly type: "phase"; readonly phase: string }
  | {
      readonly type: "step";
      readonly host: string;
      readonly step: string;
      readonly status: "start" | "ok" | "failed";
      readonly ms?: number;
    }
  | {
      readonly type: "output";
      readonly host: string;
      readonly stream: "stdout" | "stderr";
      readonly line: string;
    }
  /** Time spent on a host outside a step (taking the lock and reading the host); not printed as progress. */
  | { readonly type: "timing"; readonly host: string; readonly step: string; readonly ms: number }
  | { readonly type: "warning"; readonly host?: string; readonly message: string }
  | { readonly type: "info"; readonly host?: string; readonly message: string };

export type Emit = (event: EngineEvent) => void;
