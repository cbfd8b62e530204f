import type { ParsedAgent } from "./agent-schema.js";
import { Secret } from "./types.js";

/** The resolved `agent:` block, every default applied. */
export interface AgentSettings {
  readonly listen: string;
  readonly port: number;
  /** Webhook secrets (several while one is rotated); none = webhooks are refused. */
  readonly secrets: readonly Secret[];
  /** Seconds between `git ls-remote` polls; 0 = no polling (webhooks only). */
  readonly pollSeconds: number;
  /** The longest wait between polls after errors (doubling from pollSeconds). */
  readonly backoffMaxSeconds: number;
  readonly bodyLimitBytes: number;
  /** Requests a minute, over all clients (the agent sits behind one proxy or none). */
  readonly ratePerMinute: number;
  /** Absolute path, or relative to the (first) deploy path; default .cutover/agent/state.json. */
  readonly stateFile: string;
}

export const AGENT_DEFAULTS = {
  listen: "127.0.0.1",
  port: 9720,
  pollSeconds: 60,
  backoffMaxSeconds: 900,
  bodyLimitBytes: 1024 * 1024,
  ratePerMinute: 60,
  stateFile: ".cutover/agent/state.json",
} as const;

export function resolveAgent(parsed: ParsedAgent | undefined): AgentSettings {
  const a = parsed ?? {};
  return {
    listen: a.listen ?? AGENT_DEFAULTS.listen,
    port: a.port ?? AGENT_DEFAULTS.port,
    secrets: (a.secrets ?? []).map((s) => new Secret(s)),
    pollSeconds: a.poll ?? AGENT_DEFAULTS.pollSeconds,
    backoffMaxSeconds: a.backoff_max ?? AGENT_DEFAULTS.backoffMaxSeconds,
    bodyLimitBytes: a.body_limit ?? AGENT_DEFAULTS.bodyLimitBytes,
    ratePerMinute: a.rate_limit ?? AGENT_DEFAULTS.ratePerMinute,
    stateFile: a.state_file ?? AGENT_DEFAULTS.stateFile,
  };
}
