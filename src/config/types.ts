import type { AgentSettings } from "./agent-settings.js";
import type { HookName } from "./schema.js";

/** The resolved configuration the code works with: every default applied, every path absolute. */

export interface WritableDir {
  readonly path: string;
  readonly mode: string;
  readonly owner?: string;
  readonly group?: string;
}

/** How cutover sets up a shared path it creates or seeds (mode, then owner and group, recursively). */
export interface SharedAccess {
  readonly mode?: string;
  readonly owner?: string;
  readonly group?: string;
}

export interface SshAddress {
  readonly host: string;
  readonly user?: string;
  readonly port?: number;
  readonly identityFile?: string;
  /** Extra `ssh -o` options, "Name=value". */
  readonly options: readonly string[];
}

export interface ResolvedHost {
  /** Unique within the stage; used in output, history and --hosts. */
  readonly name: string;
  /** Absolute deploy path on the target. */
  readonly path: string;
  /** Absent for a local target (a deploy path on this machine). */
  readonly ssh?: SshAddress;
  readonly roles: readonly string[];
  /**
   * Components: the deploy paths of the other parts on this host. Checked on the host under the
   * lock, symlinks resolved: a path linked to another part's would deploy (and prune) there.
   */
  readonly apart?: readonly string[];
}

export interface HookEntry {
  readonly run: string;
  /** Only on hosts with one of these roles (all hosts when absent). */
  readonly roles?: readonly string[];
  /** Only on the first matching host. */
  readonly once?: boolean;
}

export interface SshSettings {
  readonly connectTimeoutSeconds: number;
  readonly acceptNewHostKeys: boolean;
  /** Seconds a host's connection outlives the run for the next one (0: closed with the run). */
  readonly persistSeconds: number;
}

export interface PhpPool {
  /** Unix socket path, unix:/path, or host:port. */
  readonly address: string;
  readonly reset: "opcache" | "reload" | "none";
}

export interface PhpSettings {
  readonly binary: string;
  readonly pools: readonly PhpPool[];
  readonly reloadCommand?: string;
  /** PHP runs inside Apache (mod_php): reloadCommand (apachectl graceful) runs after every switch. */
  readonly modPhp: boolean;
  readonly warmup: readonly string[];
  readonly forbidCurrentPaths: boolean;
  /** Requests per pool that must all see the new release after the switch. */
  readonly verifyRequests: number;
  /** How long to wait for a deferred OPcache restart (it waits for requests in flight). */
  readonly resetWaitSeconds: number;
}

export interface Smoke {
  readonly commands: readonly string[];
  /** Scripts of the new release requested through php.fpm[0] before the switch (status < 400 passes). */
  readonly http: readonly { readonly path: string; readonly expectBody?: string }[];
}

export interface HealthCheck {
  /** May contain {host} and {name}. */
  readonly url?: string;
  readonly command?: string;
  readonly expectStatus: number;
  readonly expectBody?: string;
  /** Header values may contain {release}. */
  readonly expectHeader: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly retries: number;
  readonly intervalSeconds: number;
}

export type NotifyEvent = "started" | "succeeded" | "failed" | "rolled_back";

export interface Webhook {
  /** The URL is a bearer token for most receivers (Slack, Discord, Teams): printed without its path. */
  readonly url: Secret;
  readonly format: "json" | "slack";
  readonly secret?: Secret;
  readonly events: readonly NotifyEvent[];
  readonly timeoutSeconds: number;
}

/** A secret prints as [REDACTED] (or a shown form) in logs, JSON and errors; only .reveal() gives the value. */
export class Secret {
  readonly #value: string;
  readonly #shown: string;
  constructor(value: string, shown = "[REDACTED]") {
    this.#value = value;
    this.#shown = shown;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return this.#shown;
  }
  toJSON(): string {
    return this.#shown;
  }
}

/** The secret strings of a stage: usable by redaction, never serialised (JSON shows [REDACTED]). */
export class SecretValues {
  readonly #values: readonly string[];
  constructor(values: readonly string[]) {
    this.#values = values;
  }
  get values(): readonly string[] {
    return this.#values;
  }
  toJSON(): string {
    return "[REDACTED]";
  }
}

export interface Rolling {
  /** Hosts per batch: a count, or a percentage of the selected hosts. */
  readonly batch: number | `${number}%`;
  readonly pauseSeconds: number;
}

/** The configuration the code uses: every default applied, every path absolute, nothing optional. */
export interface ResolvedStage {
  readonly name: string;
  /** The part of `components:` this unit deploys (its hosts' paths are the part's own); absent without parts. */
  readonly component?: string;
  readonly configFile: string;
  readonly source: string;
  readonly exclude: readonly string[];
  readonly keepReleases: number;
  /**
   * releases (a directory per release, `current` a symlink), in-place (`current` one real directory),
   * or git (the releases layout, each release extracted on the host from a commit: see `git`).
   */
  readonly strategy: "releases" | "in-place" | "git";
  /** strategy: git only. */
  readonly git?: GitSource;
  /** Build once: commands run on the deploying machine in a clean export; empty = build on the hosts only. */
  readonly buildLocal: readonly string[];
  /** in-place: builds kept on the deploying machine for rollback. */
  readonly keepBuilds: number;
  readonly sharedDirs: readonly string[];
  readonly sharedFiles: readonly string[];
  readonly writableDirs: readonly WritableDir[];
  /** Shared paths with a mode or owner of their own, applied when cutover creates or seeds them. */
  readonly sharedAccess: ReadonlyMap<string, SharedAccess>;
  readonly hooks: Readonly<Record<HookName, readonly HookEntry[]>>;
  readonly hosts: readonly ResolvedHost[];
  readonly ssh: SshSettings;
  /** Longest any one step may run on a host; its whole process group is killed after it. */
  readonly commandTimeoutSeconds: number;
  /** How the upload decides a file is unchanged (see Transfer.compare). */
  readonly uploadCompare: "mtime" | "checksum";
  readonly php: PhpSettings;
  readonly smoke: Smoke;
  readonly healthCheck?: HealthCheck;
  readonly notify: readonly Webhook[];
  /** HTTP load to run during deploys (`deploy --probe URL` overrides the url). */
  readonly probe?: { readonly url: string; readonly concurrency: number };
  readonly rolling?: Rolling;
  readonly balancer?: Balancer;
  /** strategy: blue-green (the hosts deploy as with `releases`). */
  readonly blueGreen?: BlueGreen;
  /** Failures after the switch that switch every host back. */
  readonly rollbackOn: readonly "after_switch"[];
  /**
   * Values that must never be written to a host, sent to a webhook or printed: what came from the
   * environment, webhook URLs and secrets, credentials and query values of URLs.
   */
  readonly secrets: SecretValues;
  readonly snapshots: SnapshotSettings;
  /** `cutover agent` (absent in hand-built stages of unit tests: the defaults apply). */
  readonly agent?: AgentSettings;
}

/** strategy: git: the repository every host mirrors and the ref a deploy resolves (once) to a commit. */
export interface GitSource {
  /** URL or absolute path, exactly as git gets it (it may hold a token: print `shown`). */
  readonly repository: string;
  /** The repository without credentials or query: safe to print and to store on the hosts. */
  readonly shown: string;
  readonly ref: string;
  /** Sub-directory of the repository to deploy (release-relative form, no trailing slash). */
  readonly path?: string;
  readonly submodules: boolean;
  /** Submodule URLs that are local paths or file:// may be cloned (git's protocol.file.allow); off by default. */
  readonly submodulesAllowLocal: boolean;
}

/** Hard-link snapshots of shared/: taken before every deploy when beforeDeploy; `keep` complete ones stay. */
export interface SnapshotSettings {
  readonly beforeDeploy: boolean;
  readonly keep: number;
}

/** The load balancer in front of the stage's hosts: drained rolling deploys take hosts out of it. */
export type Balancer = HaproxyBalancer | NginxBalancer;

/** strategy: blue-green: two pools of hosts; the balancer serves one, deploys go to the other. */
export interface BlueGreen {
  readonly pools: { readonly blue: readonly string[]; readonly green: readonly string[] };
}

interface BalancerBase {
  /** blue-green: probed through the balancer after a switch. */
  readonly probeUrl?: string;
  readonly switchConfirm: number;
  /** Host name -> its server in the balancer: every host of the stage has one. */
  readonly servers: ReadonlyMap<string, string>;
  /** Reached over SSH when set; this machine otherwise. */
  readonly ssh?: SshAddress;
  /** Longest wait for a drained server's sessions to end before it is deployed anyway. */
  readonly drainTimeoutSeconds: number;
  /** Most hosts out of service at once: a count, or a percentage of the stage's hosts. */
  readonly maxUnavailable: number | `${number}%`;
}

export interface HaproxyBalancer extends BalancerBase {
  readonly type: "haproxy";
  readonly socket: string;
  readonly backend: string;
}

export interface NginxBalancer extends BalancerBase {
  readonly type: "nginx";
  /** Holds only `server ADDRESS;` lines, included in the upstream block; cutover rewrites it. */
  readonly upstreamFile: string;
  readonly testCommand: string;
  readonly reloadCommand: string;
}
