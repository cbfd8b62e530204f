import { z } from "zod";

/** A path inside a release: relative, no "..", no leading "/", so it can never escape the release. */
const releasePath = z
  .string()
  .min(1, "must not be empty")
  .refine((p) => !p.startsWith("/"), "must be relative to the release (no leading /)")
  .refine((p) => !p.split("/").includes(".."), 'must not contain ".."')
  .transform((p) => p.replace(/\/+$/, "").replace(/^\.\//, ""));

/** chmod mode as octal digits. YAML reads `0775` as the number 775, so numbers are taken digit by digit. */
const mode = z
  .union([z.string(), z.number().int()])
  .transform((m) => String(m))
  .refine((m) => /^[0-7]{3,4}$/.test(m), "must be an octal chmod mode such as 0775 or 2775");

const hookList = z.array(z.string().min(1, "a hook command must not be empty"));

export const HOOK_NAMES = ["build", "before_switch", "after_switch", "after_rollback", "on_failure"] as const;
export type HookName = (typeof HOOK_NAMES)[number];

const hooks = z
  .object({
    build: hookList,
    before_switch: hookList,
    after_switch: hookList,
    after_rollback: hookList,
    on_failure: hookList,
  })
  .partial()
  .strict();

const writableDir = z.union([
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

const host = z
  .object({
    name: z.string().min(1).optional(),
    path: z
      .string()
      .min(1)
      .refine((p) => p.startsWith("/"), "must be an absolute path (the deploy path on the target)"),
  })
  .strict();

/** Keys that may stand at the top level and be overridden per stage. */
const settings = {
  source: z.string().min(1).optional(),
  exclude: z.array(z.string().min(1)).optional(),
  keep_releases: z.number().int().min(1, "must keep at least 1 release").optional(),
  shared_dirs: z.array(releasePath).optional(),
  shared_files: z.array(releasePath).optional(),
  writable_dirs: z.array(writableDir).optional(),
  hooks: hooks.optional(),
};

const stage = z
  .object({ hosts: z.array(host).min(1, "a stage needs at least one host"), ...settings })
  .strict();

export const configSchema = z
  .object({
    ...settings,
    stages: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, "stage names use letters, digits, _ . -"), stage),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type ParsedStage = z.output<typeof stage>;
export type ParsedSettings = Omit<ParsedStage, "hosts">;
