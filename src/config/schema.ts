import { z } from "zod";
import { agentSchema } from "./agent-schema.js";
import { balancer } from "./schema-balancer.js";

/** A path inside a release: relative, no "..", no leading "/", so it can never escape the release. */
const releasePath = z
  .string()
  .min(1, "must not be empty")
  .regex(/^(?!\/)/, "must be relative to the release (no leading /)")
  .regex(/^(?!(?:.*\/)?\.\.(?:\/|$))/, 'must not contain ".."')
  .regex(/^(?!(?:\.\/)*\.?\/*$)/, 'must name a path inside the release, not the release itself ("." or "./")')
  .transform((p) => p.replace(/\/+$/, "").replace(/^(\.\/)+/, ""))
  .refine(
    (p) => p.split("/").every((part) => part !== "" && part !== "."),
    'must not have empty or "." parts',
  );

/** chmod mode as octal digits. YAML reads `0775` as the number 775, so numbers are taken digit by digit. */
const OCTAL_MODE = /^[0-7]{3,4}$/;
const MODE_MESSAGE = "must be an octal chmod mode such as 0775 or 2775";
const mode = z.union([
  z.string().regex(OCTAL_MODE, MODE_MESSAGE),
  z
    .number()
    .int()
    .transform((m) => String(m))
    .refine((m) => OCTAL_MODE.test(m), MODE_MESSAGE),
]);

/** A hook is a shell command, or one limited to hosts with some roles, or run on only one host. */
const hookEntry = z.union([
  z.string().min(1, "a hook command must not be empty"),
  z
    .object({
      run: z.string().min(1, "a hook command must not be empty"),
      roles: z.array(z.string().min(1)).optional(),
      once: z.boolean().optional(),
    })
    .strict(),
]);
const hookList = z.array(hookEntry);

export const HOOK_NAMES = [
  "build",
  "before_switch",
  "after_switch",
  "after_rollback",
  "on_failure",
  "before_batch",
  "after_batch",
] as const;
export type HookName = (typeof HOOK_NAMES)[number];

const hooks = z
  .object({
    build: hookList,
    before_switch: hookList,
    after_switch: hookList,
    after_rollback: hookList,
    on_failure: hookList,
    before_batch: hookList,
    after_batch: hookList,
  })
  .partial()
  .strict();

/** A path with the mode and owner cutover gives it when it creates it (writable dirs; shared paths). */
const pathWithAccess = z.union([
  releasePath,
  z
    .object({
      path: releasePath,
      mode: mode.optional(),
      owner: z.string().min(1).optional(),
      group: z.string().min(1).optional(),
    })
    .strict(),
]);
const writableDir = pathWithAccess;

const absolutePath = z
  .string()
  .min(1)
  .regex(/^\//, "must be an absolute path (the deploy path on the target)");

const hostObject = z
  .object({
    name: z.string().min(1).optional(),
    path: absolutePath,
    host: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    identity_file: z.string().min(1).optional(),
    ssh_options: z
      .array(z.string().regex(/^\w+[ =]/, 'each option is "Name=value", as for ssh -o'))
      .optional(),
    roles: z.array(z.string().min(1)).optional(),
  })
  .strict();

/** `[user@]host[:port]:/deploy/path`; an IPv6 address goes in brackets: `deploy@[::1]:2222:/srv/app`. */
export const HOST_SHORTHAND = /^(?:([^@\s/]+)@)?(\[[0-9A-Fa-f:.]+\]|[^:@\s/[\]]+)(?::(\d{1,5}))?:(\/.*)$/;

// The message does not repeat the value: it may come from the environment (and hold a secret).
const hostShorthand = z
  .string()
  .regex(HOST_SHORTHAND, "a host is [user@]host[:port]:/absolute/path, or an object with path")
  .transform((text) => {
    const [, user, host, port, path] = HOST_SHORTHAND.exec(text)!;
    return {
      host: host!.replace(/^\[(.*)\]$/, "$1"),
      path: path!,
      ...(user ? { user } : {}),
      ...(port ? { port: Number(port) } : {}),
    } as z.output<typeof hostObject>;
  });

const host = z.union([hostShorthand, hostObject]);

const ssh = z
  .object({
    connect_timeout: z.number().positive().optional(),
    accept_new_host_keys: z.boolean().optional(),
    persist: z.number().int().min(0).max(3600).optional(),
  })
  .strict();

const php = z
  .object({
    binary: z.string().min(1).optional(),
    fpm: z
      .array(
        z
          .object({
            socket: z.string().min(1, "a unix socket path, or host:port"),
            reset: z.enum(["opcache", "reload", "none"]).optional(),
          })
          .strict(),
      )
      .optional(),
    reload_command: z.string().min(1).optional(),
    mod_php: z.boolean().optional(),
    warmup: z.array(releasePath).optional(),
    forbid_current_paths: z.boolean().optional(),
    verify_requests: z.number().int().min(1).max(100).optional(),
    reset_wait: z.number().min(0).optional(),
  })
  .strict();

const smoke = z
  .object({
    commands: z.array(z.string().min(1)).optional(),
    http: z.array(z.object({ path: releasePath, expect_body: z.string().optional() }).strict()).optional(),
  })
  .strict();

const healthCheck = z
  .object({
    url: z.string().min(1).optional(),
    command: z.string().min(1).optional(),
    expect_status: z.number().int().min(100).max(599).optional(),
    expect_body: z.string().optional(),
    expect_header: z.record(z.string()).optional(),
    timeout: z.number().positive().optional(),
    retries: z.number().int().min(1).optional(),
    interval: z.number().min(0).optional(),
  })
  .strict()
  .refine((h) => (h.url === undefined) !== (h.command === undefined), "give either url or command");

const webhook = z
  .object({
    url: z.string().url(),
    format: z.enum(["json", "slack"]).optional(),
    secret: z.string().min(1).optional(),
    events: z.array(z.enum(["started", "succeeded", "failed", "rolled_back"])).optional(),
    timeout: z.number().positive().optional(),
  })
  .strict();

const rolling = z
  .object({
    batch: z.union([
      z.number().int().min(1),
      z.string().regex(/^\d{1,3}%$/, 'a number of hosts, or a percentage such as "25%"'),
    ]),
    pause_seconds: z.number().min(0).optional(),
  })
  .strict();

/** strategy: git: where each host's mirror fetches from, and which commit a deploy extracts. */
const gitSettings = {
  repository: z.string().min(1, "a repository URL or path").optional(),
  ref: z
    .string()
    .min(1)
    .regex(/^(?!-)[^\s\0]+$/, "a branch, tag or full commit id (no spaces, no leading -)")
    .optional(),
  repository_path: releasePath.optional(),
  submodules: z.boolean().optional(),
  submodules_allow_local: z.boolean().optional(),
};

/** Build once: commands run on the deploying machine in a clean export; their result is shipped. */
const build = z.object({ local: z.array(z.string().min(1, "a build command must not be empty")) }).strict();

/** Keys that may stand at the top level and be overridden per stage. */
const settings = {
  source: z.string().min(1).optional(),
  exclude: z.array(z.string().min(1)).optional(),
  keep_releases: z.number().int().min(1, "must keep at least 1 release").optional(),
  strategy: z.enum(["releases", "in-place", "blue-green", "git"]).optional(),
  /** strategy: blue-green: the stage's hosts in two pools; the balancer serves one of them. */
  pools: z
    .object({ blue: z.array(z.string().min(1)).min(1), green: z.array(z.string().min(1)).min(1) })
    .strict()
    .optional(),
  ...gitSettings,
  keep_builds: z.number().int().min(1, "must keep at least 1 build").optional(),
  shared_dirs: z.array(pathWithAccess).optional(),
  shared_files: z.array(pathWithAccess).optional(),
  writable_dirs: z.array(writableDir).optional(),
  hooks: hooks.optional(),
  build: build.optional(),
  ssh: ssh.optional(),
  command_timeout: z.number().positive().optional(),
  upload: z
    .object({ compare: z.enum(["mtime", "checksum"]).optional() })
    .strict()
    .optional(),
  rolling: rolling.optional(),
  balancer: balancer.optional(),
  rollback_on: z.array(z.literal("after_switch")).optional(),
  php: php.optional(),
  smoke: smoke.optional(),
  health_check: healthCheck.optional(),
  notify: z.array(webhook).optional(),
  probe: z
    .object({ url: z.string().url(), concurrency: z.number().int().min(1).max(1000).optional() })
    .strict()
    .optional(),
  snapshots: z
    .object({
      before_deploy: z.boolean().optional(),
      keep: z.number().int().min(1, "must keep at least 1 snapshot").optional(),
    })
    .strict()
    .optional(),
  agent: agentSchema.optional(),
};

const stage = z
  .object({ hosts: z.array(host).min(1, "a stage needs at least one host"), ...settings })
  .strict();

/** Names that also serve as a directory under the deploy path: never "." or "..". */
const NAME = /^(?!\.\.?$)[A-Za-z0-9_.-]+$/;

// ssh stays per stage: it is how the hosts are reached, not a property of a part; so does the agent.
const { ssh: _ssh, agent: _agent, ...partSettings } = settings;

/** A part of the codebase (or one app of several) with its own releases, current, shared/ and .cutover/. */
const component = z
  .object({
    path: z
      .string()
      .min(1)
      .regex(/^(?!(?:.*\/)?\.\.(?:\/|$))/, 'must not contain ".."')
      .optional(),
    roles: z.array(z.string().min(1)).optional(),
    ...partSettings,
  })
  .strict();

export const configSchema = z
  .object({
    ...settings,
    stages: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, "stage names use letters, digits, _ . -"), stage),
    components: z
      .record(
        z.string().regex(NAME, 'component names use letters, digits, _ . - (not "." or "..")'),
        component,
      )
      .optional(),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type ParsedStage = z.output<typeof stage>;
export type ParsedSettings = Omit<ParsedStage, "hosts">;
export type ParsedComponent = z.output<typeof component>;
