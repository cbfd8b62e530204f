import path from "node:path";
import { configError } from "../errors.js";
import type { ParsedSettings } from "./schema.js";
import type { GitSource } from "./types.js";

const GIT_KEYS = ["repository", "ref", "repository_path", "submodules", "submodules_allow_local"] as const;

/** A URL git reads by scheme (ssh://, https://, file://...), or scp-like `[user@]host:path` (a colon before any slash). */
function isRemote(repository: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repository) || /^[^/]+:/.test(repository);
}

/**
 * The repository as it may be printed and stored on the hosts: a URL without its user name,
 * password, query or fragment (any of them can be a token), anything else as it is.
 */
export function shownRepository(repository: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(repository)) return repository;
  try {
    const url = new URL(repository);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return "[REDACTED URL]";
  }
}

/** The credentials in a repository URL, for redaction: user name (a token as often as not), password, query values. */
export function repositorySecrets(repository: string): string[] {
  try {
    const url = new URL(repository);
    if (!/^(https?|ssh|git|ftps?):$/.test(url.protocol)) return [];
    // A password is a secret whatever its length (from 4 characters, as stageSecrets); a user name or
    // query value when long enough to be a token (short ones would blank ordinary words everywhere).
    const long = [url.username, ...url.searchParams.values()].filter((v) => v.length >= 8);
    const values = [...long, ...(url.password.length >= 4 ? [url.password] : [])];
    return values.flatMap((v) => [v, decodeURIComponent(v)]);
  } catch {
    return [];
  }
}

/** strategy: git's settings, checked; the git keys without strategy: git are an error. */
export function resolveGitSource(
  merged: ParsedSettings,
  file: string,
  configDir: string,
): GitSource | undefined {
  if (merged.strategy !== "git") {
    const stray = GIT_KEYS.find((k) => merged[k] !== undefined);
    if (stray)
      throw configError(`${file}: ${stray} is only used with strategy: git`, "set strategy: git, or drop it");
    return undefined;
  }
  if (merged.repository === undefined)
    throw configError(
      `${file}: strategy: git needs repository`,
      "set repository: to the URL (or a path) of the git repository to deploy from",
    );
  const repository = isRemote(merged.repository)
    ? merged.repository
    : path.resolve(configDir, merged.repository);
  return {
    repository,
    shown: shownRepository(repository),
    ref: merged.ref ?? "HEAD",
    path: merged.repository_path,
    submodules: merged.submodules ?? false,
    submodulesAllowLocal: merged.submodules_allow_local ?? false,
  };
}

/**
 * git's protocol.file.allow for commands that may clone submodules: "never" unless the config
 * allows it. A .gitmodules the deployer does not control could name a local path or file:// URL,
 * and the host would copy that repository into the release; git's own default ("user") refuses it
 * only from 2.38.1 on, and a host's git config may allow it. ext:: (runs a command) never.
 */
export function submoduleProtocols(git: GitSource): string[] {
  return [
    "-c",
    `protocol.file.allow=${git.submodulesAllowLocal ? "always" : "never"}`,
    "-c",
    "protocol.ext.allow=never",
  ];
}

/** The one-line refusal of a submodule at a local URL (git said "transport 'file' not allowed"). */
export function localSubmoduleRefusal(submodule: string, url: string): { message: string; fix: string } {
  return {
    message: `submodule ${submodule} has a local URL (${url}); refusing to clone it: it could copy any repository on this machine into the release`,
    fix: "give it an https or ssh URL in .gitmodules, or set submodules_allow_local: true in cutover.yaml if you trust what it names",
  };
}

/**
 * How git gets a URL's credentials without them on a command line or on disk: cutover passes the
 * URL without them, and the environment (GIT_CONFIG_*) holds `url.<base>.insteadOf=<prefix>`, which
 * git applies to every URL under `prefix` (relative submodule URLs too). Undefined when the
 * repository has no credentials. A token in the query or fragment can only be rewritten exactly.
 * `scope` is the URL's server, for which git must run no credential helper (see noHelperConfig).
 */
export function credentialRewrite(
  repository: string,
): { base: string; prefix: string; scope: string } | undefined {
  const shown = shownRepository(repository);
  if (shown === repository || shown === "[REDACTED URL]") return undefined;
  const url = new URL(repository);
  if (!url.username && !url.password && !url.search && !url.hash) return undefined;
  const scope = `${url.protocol}//${url.host}/`;
  if (url.search || url.hash) return { base: repository, prefix: shown, scope };
  const userinfo = url.password ? `${url.username}:${url.password}` : url.username;
  return { base: `${url.protocol}//${userinfo}@${url.host}/`, prefix: scope, scope };
}

/**
 * `credential.<scope>.helper` empty: no credential helper for the URL's server. git hands the
 * credentials a request used to every helper configured (`store`, a keychain), which would write
 * the URL's token to disk; the URL carries them, so no helper is needed there.
 */
export function noHelperConfig(scope: string): [key: string, value: string] {
  return [`credential.${scope}.helper`, ""];
}

/** The repository as git gets it on a command line: without credentials when credentialEnv carries them. */
export function commandLineUrl(repository: string): string {
  return credentialRewrite(repository) ? shownRepository(repository) : repository;
}

/** credentialRewrite and noHelperConfig as environment variables for git, after any GIT_CONFIG_* already in `env`. */
export function credentialEnv(
  repository: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const rewrite = credentialRewrite(repository);
  if (!rewrite) return {};
  const n = Number(env.GIT_CONFIG_COUNT ?? 0) || 0;
  const [helperKey, helperValue] = noHelperConfig(rewrite.scope);
  return {
    GIT_CONFIG_COUNT: String(n + 2),
    [`GIT_CONFIG_KEY_${n}`]: `url.${rewrite.base}.insteadOf`,
    [`GIT_CONFIG_VALUE_${n}`]: rewrite.prefix,
    [`GIT_CONFIG_KEY_${n + 1}`]: helperKey,
    [`GIT_CONFIG_VALUE_${n + 1}`]: helperValue,
  };
}
