import type { HookName } from "../config/schema.js";
import type { Cmd } from "../shell/cmd.js";
import type { CurrentScan } from "./release-meta.js";

/** A copy from the deploying machine to a target path (rsync; unchanged files hard-linked). */
export interface Transfer {
  /** Local source: a directory (copied as its contents) or a single file. */
  readonly from: string;
  readonly to: string;
  readonly directory: boolean;
  /** Earlier releases to hard-link unchanged files from, relative to `to`. */
  readonly linkDest: readonly string[];
  /** rsync exclude patterns, anchored at the transfer root. */
  readonly exclude: readonly string[];
  /**
   * How rsync decides a file is unchanged: "mtime" (size and nanosecond mtime, the fast default for a
   * working tree) or "checksum" (content; mtimes not kept, so a fresh CI checkout still links).
   */
  readonly compare: "mtime" | "checksum";
  /**
   * Into the live directory (strategy: in-place): rsync --delay-updates --delete-delay, so files
   * are renamed into place together at the end and removals follow them.
   */
  readonly live?: true;
  /** Send only these entries (a local file of NUL-separated source-relative names), nothing recursively. */
  readonly filesFrom?: string;
  /**
   * Keep the source's directory mtimes (a build kept on this machine for in-place deploys); else
   * directories take the destination's time, except into the live directory (see rsyncArgs).
   */
  readonly dirTimes?: true;
}

/** A good earlier release on the host and the checksum its metadata records for its manifest. */
export interface DeltaBase {
  readonly dir: string;
  readonly manifest: string;
  readonly checksum: string;
  /** What its scan for paths through current found, when it recorded all of it. */
  readonly currentScan?: CurrentScan;
}

/** Paths cutover's own steps change after a delta upload: shared paths made links, writable dirs copied. */
export interface AfterUpload {
  readonly shared: readonly string[];
  readonly writable: readonly string[];
}

export type Step =
  | {
      readonly kind: "run";
      readonly title: string;
      readonly cmds: readonly Cmd[];
      /** Makes the (empty) release directory: run in the next step's round trip if that is a delta upload. */
      readonly makesRelease?: true;
      /** Its stdout's `cutover-warning: ` lines are warnings to show. */
      readonly warns?: true;
    }
  | {
      readonly kind: "transfer";
      readonly title: string;
      readonly transfer: Transfer;
      /** Build from this earlier release: link what its manifest already has, send the rest (plan/delta.ts). */
      readonly delta?: DeltaBase;
    }
  | { readonly kind: "hook"; readonly title: string; readonly hook: HookName; readonly cmds: readonly Cmd[] }
  /** Installs the PHP runtime helpers and compiles the release's PHP files in every pool. */
  | { readonly kind: "php-warmup"; readonly title: string }
  /** Requests scripts of the new release through php-fpm (a preview: the old release still serves). */
  | { readonly kind: "smoke-http"; readonly title: string }
  /** Reads the deployed commit's author, date and subject into the release metadata (strategy: git). */
  | { readonly kind: "git-describe"; readonly title: string; readonly cmds: readonly Cmd[] }
  /** Lists and hashes the uploaded release; refuses it unless its checksum is the local build's (build once). */
  | { readonly kind: "verify-upload"; readonly title: string; readonly checksum: string }
  /**
   * Lists and hashes the release, searches it for the literal DEPLOY_PATH/current (warns, or refuses
   * when configured), records manifest and checksum.
   */
  | {
      readonly kind: "seal";
      readonly title: string;
      /** The delta base, whose hashes (and scan findings) files linked to it take. */
      readonly reuse?: DeltaBase;
      /**
       * Nothing between the delta upload and the seal changes the release but cutover's own steps:
       * the shared paths replaced by links and the writable dirs copied in place (same content,
       * below them out of the manifest). The upload's checked listing then stands, with only these
       * paths and their parents listed again.
       */
      readonly afterUpload?: AfterUpload;
    };
