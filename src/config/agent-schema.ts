import { z } from "zod";

/** `agent:`: how `cutover agent` listens for push webhooks and polls the repository. */
export const agentSchema = z
  .object({
    listen: z.string().min(1, "an IP address such as 127.0.0.1").optional(),
    port: z.number().int().min(1).max(65535).optional(),
    secrets: z.array(z.string().min(1, "a webhook secret must not be empty")).optional(),
    poll: z.number().min(0).optional(),
    backoff_max: z.number().positive().optional(),
    body_limit: z.number().int().min(1024).optional(),
    rate_limit: z.number().int().min(1).optional(),
    state_file: z.string().min(1).optional(),
  })
  .strict();

export type ParsedAgent = z.output<typeof agentSchema>;
