import { configError } from "../errors.js";
import type { ParsedSettings } from "./schema.js";
import type { Balancer, BlueGreen, ResolvedHost, SshAddress } from "./types.js";

/**
 * IPv4 or [IPv6] with a port: what `ss` can filter nginx's connections on, so a drain can see the
 * requests still in flight (an IPv4-mapped IPv6 address never matches the IPv4 sockets it means).
 */
const COUNTABLE_ADDRESS = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[(?![0:]*:ffff:)[0-9A-Fa-f:.]+\]):\d{1,5}$/i;

const SSH_TARGET = /^(?:([^@\s/]+)@)?(\[[0-9A-Fa-f:.]+\]|[^:@\s/[\]]+)(?::(\d{1,5}))?$/;

type ParsedSsh = NonNullable<NonNullable<ParsedSettings["balancer"]>["ssh"]>;

/** `expand` resolves an identity file as for the stage's hosts (relative to the config file, or ~/). */
function sshAddress(ssh: ParsedSsh, expand: (p: string) => string): SshAddress {
  if (typeof ssh !== "string")
    return {
      host: ssh.host,
      user: ssh.user,
      port: ssh.port,
      identityFile: ssh.identity_file ? expand(ssh.identity_file) : undefined,
      options: ssh.ssh_options ?? [],
    };
  const [, user, host, port] = SSH_TARGET.exec(ssh)!;
  return {
    host: host!.replace(/^\[(.*)\]$/, "$1"),
    user,
    port: port ? Number(port) : undefined,
    options: [],
  };
}

/**
 * The stage's balancer with every host mapped to its server. HAProxy servers default to the host's
 * name; nginx needs each host's address, since the upstream file lists addresses.
 */
export function resolveBalancer(
  parsed: ParsedSettings["balancer"],
  hosts: readonly ResolvedHost[],
  where: (key: string) => string,
  expand: (p: string) => string,
): Balancer | undefined {
  if (!parsed) return undefined;
  const given = parsed.servers ?? {};
  const names = hosts.map((h) => h.name);
  const stray = Object.keys(given).find((name) => !names.includes(name));
  if (stray)
    throw configError(
      `${where(`balancer.servers.${stray}`)}: no host named "${stray}" in this stage`,
      `name one of the stage's hosts: ${names.join(", ")}`,
    );
  const missing = names.find((name) => given[name] === undefined);
  if (parsed.type === "nginx" && missing)
    throw configError(
      `${where("balancer.servers")}: host "${missing}" has no upstream address`,
      `add "${missing}: ADDRESS:PORT" (the address the upstream file lists for it)`,
    );
  const uncountable =
    parsed.type === "nginx" ? names.find((n) => !COUNTABLE_ADDRESS.test(given[n]!)) : undefined;
  if (uncountable)
    throw configError(
      `${where(`balancer.servers.${uncountable}`)}: "${given[uncountable]}" is not an IP address with a port: a drain could not see the requests nginx still has in flight to it`,
      "give the address nginx connects to as IPv4:PORT or [IPv6]:PORT, in the upstream file too",
    );
  const servers = new Map(names.map((name) => [name, given[name] ?? name]));
  const taken = new Map<string, string>();
  for (const [host, server] of servers) {
    const other = taken.get(server);
    if (other)
      throw configError(
        `${where("balancer.servers")}: hosts "${other}" and "${host}" are both server "${server}"`,
        "give every host its own server in the balancer",
      );
    taken.set(server, host);
  }
  const base = {
    servers,
    ssh: parsed.ssh ? sshAddress(parsed.ssh, expand) : undefined,
    drainTimeoutSeconds: parsed.drain_timeout ?? 30,
    probeUrl: parsed.probe_url,
    switchConfirm: parsed.switch_confirm ?? 20,
    maxUnavailable: (parsed.max_unavailable ?? "50%") as Balancer["maxUnavailable"],
  };
  return parsed.type === "haproxy"
    ? { ...base, type: "haproxy", socket: parsed.socket, backend: parsed.backend }
    : {
        ...base,
        type: "nginx",
        upstreamFile: parsed.upstream_file,
        testCommand: parsed.test_command ?? "nginx -t",
        reloadCommand: parsed.reload_command ?? "nginx -s reload",
      };
}

/** strategy: blue-green needs a balancer and two pools that split the stage's hosts. */
export function resolveBlueGreen(
  merged: ParsedSettings,
  hosts: readonly ResolvedHost[],
  where: (key: string) => string,
): BlueGreen | undefined {
  if (merged.strategy !== "blue-green") {
    if (merged.pools)
      throw configError(
        `${where("pools")}: pools are for strategy: blue-green`,
        "set strategy: blue-green, or remove pools",
      );
    return undefined;
  }
  if (!merged.balancer)
    throw configError(
      `${where("strategy")}: blue-green needs a balancer`,
      "add balancer: (type: haproxy or nginx)",
    );
  if (!merged.pools)
    throw configError(
      `${where("pools")}: blue-green needs pools: { blue: [hosts], green: [hosts] }`,
      "list each host's name in one pool",
    );
  const names = hosts.map((h) => h.name);
  const { blue, green } = merged.pools;
  for (const [pool, list] of [
    ["blue", blue],
    ["green", green],
  ] as const) {
    const stray = list.find((n) => !names.includes(n));
    if (stray)
      throw configError(`${where(`pools.${pool}`)}: no host named "${stray}"`, `hosts: ${names.join(", ")}`);
  }
  const unplaced = names.find((n) => blue.includes(n) === green.includes(n));
  if (unplaced)
    throw configError(
      `${where("pools")}: host "${unplaced}" must be in exactly one pool`,
      "list every host once, in blue or green",
    );
  return { pools: { blue, green } };
}
