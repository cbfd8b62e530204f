import path from "node:path/posix";
import type { ResolvedHost, ResolvedStage } from "../config/resolve.js";
import { CutoverError, EXIT } from "../errors.js";
import { type Cmd, cmd } from "../shell/cmd.js";
import type { HostFacts, InnerDir } from "./facts.js";
import { type HookScope, hookCmds, hookEnv } from "./hooks.js";
import { type Layout, layout, sharedLinkTarget } from "./layout.js";
import type { Leftovers } from "./reconcile.js";
import { makeRelease, writeMeta } from "./records.js";
import { releaseContent } from "./release-content.js";
import { isGood, type ReleaseMeta, type Revision } from "./release-meta.js";
import { releaseOrder } from "./release-order.js";
import { linkInRelease, writableInRelease } from "./release-paths.js";
import { sharedSetup } from "./shared-setup.js";
import type { DeltaBase, Step } from "./steps.js";

/** What the deploying machine knows about the source tree. */
export interface SourceFacts {
  readonly revision: Revision | null;
  /**
   * Build once: the directory built on this machine, uploaded as it is to every host, and the
   * checksum of its manifest, which every host's upload must match before anything switches.
   */
  readonly built?: { readonly dir: string; readonly checksum: string };
  /** For each shared path: what the source has there. */
  readonly paths: ReadonlyMap<string, "dir" | "file" | "missing">;
}

export interface DeployContext {
  readonly stage: ResolvedStage;
  readonly host: ResolvedHost;
  readonly facts: HostFacts;
  readonly leftovers: Leftovers;
  readonly source: SourceFacts;
  readonly releaseId: string;
  readonly who: string;
  readonly now: string;
  /** The hosts of this run, in config order (for `once` hooks). */
  readonly among: readonly ResolvedHost[];
}

export interface HostDeployPlan {
  readonly host: ResolvedHost;
  readonly layout: Layout;
  readonly releaseId: string;
  readonly previous: string | undefined;
  readonly meta: ReleaseMeta;
  readonly leftovers: Leftovers;
  readonly hooks: HookScope;
  readonly prepare: readonly Step[];
}

/** Refuses targets that no deploy can safely proceed on; each error says what to do. */
export function checkTarget(host: ResolvedHost, facts: HostFacts): void {
  const l = layout(host.path);
  if (facts.root === "notdir") {
    throw new CutoverError("target", `${host.name}: deploy path ${l.root} exists and is not a directory`, {
      fix: "point `path:` at a directory",
      exitCode: EXIT.usage,
    });
  }
  if (facts.current.kind === "dir") {
    throw new CutoverError(
      "target",
      `${host.name}: ${l.current} is a real directory, not a symlink; cutover will not replace it`,
      {
        fix: "run `cutover adopt --migrate` first: it makes it a release and `current` a link to it in one atomic step (no downtime), then deploy",
        exitCode: EXIT.usage,
      },
    );
  }
  if (facts.home !== undefined && path.normalize(facts.home) === l.root) {
    throw new CutoverError("target", `${host.name}: deploy path ${l.root} is the login's home directory`, {
      fix: "deploy into a directory of its own, e.g. ~/my-app",
      exitCode: EXIT.usage,
    });
  }
  checkInnerDirs(host, facts);
  requireRsync(host, facts);
  if (facts.current.kind === "other" || facts.current.kind === "file") {
    throw new CutoverError("target", `${host.name}: ${l.current} exists and is not a symlink`, {
      fix: "move it away, then deploy",
      exitCode: EXIT.usage,
    });
  }
}

/** Checked before anything changes: a small delta needs no rsync, the next larger one would fail midway. */
export function requireRsync(host: ResolvedHost, facts: HostFacts): void {
  if (facts.rsync) return;
  throw new CutoverError(
    "target",
    `${host.name}: rsync is not installed on the host (or not in the login's PATH)`,
    {
      fix: "install it there (e.g. apt-get install rsync): every upload needs it",
      exitCode: EXIT.usage,
    },
  );
}

/**
 * releases/, .cutover/ and its releases/ and tmp/ must be real directories (or not exist yet):
 * through a symlink, the lock, the switch's rename and every removal would act somewhere else.
 */
export function checkInnerDirs(
  host: ResolvedHost,
  facts: HostFacts,
  /** Only these (unlock, which touches .cutover alone). */
  only?: readonly InnerDir[],
): void {
  for (const [dir, kind] of facts.inner) {
    if (dir === "shared" || kind === "dir" || kind === "missing" || (only && !only.includes(dir))) continue;
    const full = path.join(host.path, dir);
    throw new CutoverError("target", `${host.name}: ${full} is a ${kind}, not a directory`, {
      fix: `cutover keeps its own state there; move ${full} away (it is left untouched), then run again`,
      exitCode: EXIT.usage,
    });
  }
}

/** Components: this deploy path is, on the host, another part's (a symlink to it), or in or around it. */
export function checkApart(host: ResolvedHost, facts: HostFacts): void {
  const within = (a: string, b: string) => a === b || a.startsWith(`${b}/`);
  const o = facts.apart.find((a) => a.real && a.root && (within(a.root, a.real) || within(a.real, a.root)));
  if (!o) return;
  throw new CutoverError(
    "target",
    `${host.name}: ${host.path} is ${o.root} on the host, the same as or in or around ${o.path}, another component's deploy path`,
    {
      fix: `make ${host.path} a directory of its own on ${host.name}, not a link to another component's`,
      state: "nothing was changed",
    },
  );
}

/** The newest good releases to hard-link unchanged files from, live one first. */
function linkSources(facts: HostFacts, live: string | undefined): string[] {
  const good = facts.releaseDirs
    .filter((id) => isGood(facts.metas.get(id)))
    .sort(releaseOrder(facts.metas))
    .reverse();
  const ordered = live && good.includes(live) ? [live, ...good.filter((id) => id !== live)] : good;
  return ordered.slice(0, 3).map((id) => `../${id}`);
}

/** The newest good release whose metadata records its manifest's checksum: what a delta upload builds on. */
function deltaBase(facts: HostFacts, l: Layout, live: string | undefined): DeltaBase | undefined {
  for (const source of linkSources(facts, live)) {
    const id = source.slice(3);
    const meta = facts.metas.get(id);
    if (meta?.checksum)
      return {
        dir: l.release(id),
        manifest: l.releaseManifest(id),
        checksum: meta.checksum,
        currentScan: meta.current_scan,
      };
  }
  return undefined;
}

export function planDeploy(ctx: DeployContext): HostDeployPlan {
  const { stage, host, facts, source, releaseId: id } = ctx;
  checkTarget(host, facts);
  const l = layout(host.path);
  const previous = facts.current.kind === "link" ? facts.current.release : undefined;
  const rel = l.release(id);
  const hooks: HookScope = { stage, host, among: ctx.among, layout: l, release: id, previous };
  const meta: ReleaseMeta = {
    id,
    state: "preparing",
    stage: stage.name,
    who: ctx.who,
    revision: source.revision,
    started_at: ctx.now,
  };
  const steps: Step[] = [];

  const sharedAll = [...stage.sharedDirs, ...stage.sharedFiles];
  const sharedParents = sharedAll.map((p) => path.dirname(path.join(l.shared, p)));
  const dirs = [...new Set([l.releases, l.shared, path.dirname(l.releaseMeta(id)), l.tmp, ...sharedParents])];
  steps.push({
    kind: "run",
    title: "create release directory",
    cmds: [cmd(["mkdir", "-p", "--", ...dirs]), ...writeMeta(l, meta), makeRelease(l, id)],
    makesRelease: true,
  });

  const base = deltaBase(facts, l, previous);
  steps.push(...releaseContent(ctx, l, linkSources(facts, previous), base));
  const upload = steps.findIndex((s) => s.kind === "transfer" && s.delta);
  // Steps whose only changes to the release are known: the shared links and writable dirs.
  const ownChanges = new Set<Step>(sharedSteps(ctx, l));
  steps.push(...ownChanges);

  const writable: Cmd[] = stage.writableDirs.map((w) =>
    writableInRelease(
      rel,
      w.path,
      w.mode,
      w.owner || w.group ? `${w.owner ?? ""}${w.group ? `:${w.group}` : ""}` : "",
    ),
  );
  if (writable.length > 0) {
    const prepareWritable: Step = { kind: "run", title: "prepare writable directories", cmds: writable };
    ownChanges.add(prepareWritable);
    steps.push(prepareWritable);
  }

  if (stage.hooks.build.length > 0)
    steps.push({ kind: "hook", title: "build", hook: "build", cmds: hookCmds(hooks, "build", rel) });
  if (stage.php.pools.length > 0 && stage.php.warmup.length > 0)
    steps.push({ kind: "php-warmup", title: "warm up OPcache" });
  // Anything else after the upload (a build, the warm-up) changes the release as only a full listing sees.
  const onlyOwnChanges =
    upload >= 0 && steps.slice(upload + 1).every((s) => ownChanges.has(s) || s.kind === "verify-upload");
  steps.push({
    kind: "seal",
    title: "record manifest and checksum",
    reuse: base,
    ...(onlyOwnChanges
      ? { afterUpload: { shared: sharedAll, writable: stage.writableDirs.map((w) => w.path) } }
      : {}),
  });
  if (stage.hooks.before_switch.length > 0) {
    steps.push({
      kind: "hook",
      title: "before_switch",
      hook: "before_switch",
      cmds: hookCmds(hooks, "before_switch", rel),
    });
  }
  if (stage.smoke.commands.length > 0) {
    steps.push({
      kind: "run",
      title: "smoke test",
      cmds: stage.smoke.commands.map((line) => cmd(["sh", "-c", line], { cwd: rel, env: hookEnv(hooks) })),
    });
  }
  if (stage.smoke.http.length > 0) steps.push({ kind: "smoke-http", title: "smoke test through php-fpm" });
  return { host, layout: l, releaseId: id, previous, meta, leftovers: ctx.leftovers, hooks, prepare: steps };
}

function sharedSteps(ctx: DeployContext, l: Layout): Step[] {
  const rel = l.release(ctx.releaseId);
  const setup = sharedSetup(ctx.stage, ctx.host, ctx.facts, ctx.source, l);
  const links = [
    ...setup.make,
    ...[...ctx.stage.sharedDirs, ...ctx.stage.sharedFiles].map((p) =>
      linkInRelease(rel, p, sharedLinkTarget(p)),
    ),
  ];
  return [
    ...setup.seeds,
    ...(links.length > 0 ? [{ kind: "run", title: "link shared paths", cmds: links } as const] : []),
    ...(setup.access.length > 0
      ? [{ kind: "run", title: "set mode and owner of new shared paths", cmds: setup.access } as const]
      : []),
  ];
}
