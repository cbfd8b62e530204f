import type { ResolvedStage } from "../config/resolve.js";
import { phpOfHost } from "../engine/php-runtime.js";
import { selectHosts } from "../engine/targets.js";
import { usageError } from "../errors.js";

/** What a printed config holds of a host: its deploy path and, when PHP goes to php-fpm, the pool's address. */
export interface ConfigHost {
  readonly deployPath: string;
  /** --fpm, else the host's first php.fpm socket ({name} put in); undefined when there is none. */
  readonly fpm: string | undefined;
}

const MAX_LISTED = 8;

/**
 * The deploy path and php-fpm address of the hosts a config is printed for (--hosts, else all).
 * A config names one path and one socket: hosts that differ in either each need their own, so
 * they are refused together rather than served a config written for the first of them.
 */
export function configHost(
  stage: ResolvedStage,
  only: readonly string[] | undefined,
  fpmOption: string | undefined,
  usesFpm: boolean,
): ConfigHost {
  const hosts = selectHosts(stage, only).map((h) => ({
    name: h.name,
    deployPath: h.path,
    fpm: fpmOption ?? phpOfHost(stage, h).php.pools[0]?.address,
  }));
  const first = hosts[0]!;
  const paths = hosts.some((h) => h.deployPath !== first.deployPath);
  const sockets = usesFpm && hosts.some((h) => h.fpm !== first.fpm);
  if (paths || sockets) {
    const what = (h: (typeof hosts)[number]) =>
      [paths ? h.deployPath : "", sockets ? `php-fpm ${h.fpm ?? "none"}` : ""].filter(Boolean).join(", ");
    const listed = hosts.slice(0, MAX_LISTED).map((h) => `${h.name} (${what(h)})`);
    const more = hosts.length > MAX_LISTED ? `, and ${hosts.length - MAX_LISTED} more` : "";
    const where = `${stage.component ? `component ${stage.component} of ` : ""}stage ${stage.name}`;
    throw usageError(
      `server-config: the hosts of ${where} differ in ${paths ? "deploy path" : "php-fpm socket"}${paths && sockets ? " and php-fpm socket" : ""}, and a config names one: ${listed.join(", ")}${more}`,
      `print one config per host: --hosts ${first.name}, then --hosts ${hosts.find((h) => what(h) !== what(first))!.name}`,
    );
  }
  return { deployPath: first.deployPath, fpm: first.fpm };
}
