import { z } from "zod";

/** A share of the hosts: a count, or a percentage such as "25%". */
const share = z.union([
  z.number().int().min(1),
  z.string().regex(/^\d{1,3}%$/, 'a number of hosts, or a percentage such as "25%"'),
]);

/** The load balancer in front of the stage's hosts (see "Behind a load balancer" in the README). */
const balancerCommon = {
  /** Host name -> its server in the balancer (HAProxy: server name; nginx: address). */
  servers: z
    .record(
      z.string().min(1),
      z.string().regex(/^[^\s;{}#]+$/, "a server name or address, without spaces or ; { } #"),
    )
    .optional(),
  /** Where the balancer runs, reached over SSH: "[user@]host[:port]" or as a host; this machine when absent. */
  ssh: z
    .union([
      z
        .string()
        .regex(/^(?:[^@\s/]+@)?(?:\[[0-9A-Fa-f:.]+\]|[^:@\s/[\]]+)(?::\d{1,5})?$/, "[user@]host[:port]"),
      z
        .object({
          host: z.string().min(1),
          user: z.string().min(1).optional(),
          port: z.number().int().min(1).max(65535).optional(),
          identity_file: z.string().min(1).optional(),
          ssh_options: z
            .array(z.string().regex(/^\w+[ =]/, 'each option is "Name=value", as for ssh -o'))
            .optional(),
        })
        .strict(),
    ])
    .optional(),
  drain_timeout: z.number().min(0).optional(),
  /** blue-green: a URL through the balancer, probed after a switch until only the new pool answers. */
  probe_url: z
    .string()
    .url()
    .regex(/^https?:\/\//, "an http:// or https:// URL (requested like a browser would)")
    .optional(),
  /** blue-green: consecutive answers from the new pool that end the switch (default 20). */
  switch_confirm: z.number().int().min(1).max(10000).optional(),
  max_unavailable: share.optional(),
};
export const balancer = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("haproxy"),
      socket: z
        .string()
        .regex(/^\//, "the absolute path of HAProxy's admin socket (stats socket ... level admin)"),
      backend: z.string().regex(/^[^\s;/]+$/, "a backend name, without spaces, ; or /"),
      ...balancerCommon,
    })
    .strict(),
  z
    .object({
      type: z.literal("nginx"),
      upstream_file: z.string().regex(/^\//, "the absolute path of the file included in the upstream block"),
      test_command: z.string().min(1).optional(),
      reload_command: z.string().min(1).optional(),
      ...balancerCommon,
    })
    .strict(),
]);
