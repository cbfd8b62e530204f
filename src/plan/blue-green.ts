import type { Balancer, BlueGreen, HaproxyBalancer } from "../config/resolve.js";
import type { Cmd } from "../shell/cmd.js";
import { haproxyAsk, nginxSwap, nginxUpstream, type ServerState } from "./balancer.js";

export type PoolName = "blue" | "green";

export interface Pools {
  /** The pool the balancer serves. */
  readonly live: PoolName;
  /** The pool out of service: deploys go there; switch-back goes back there. */
  readonly idle: PoolName;
}

export const otherPool = (p: PoolName): PoolName => (p === "blue" ? "green" : "blue");

/**
 * Which pool the balancer serves: every server of one pool in service and every server of the other
 * out of it. Anything else (a pool half in, both in, a server unknown) is a reason, not a guess.
 */
export function poolsOf(bg: BlueGreen, b: Balancer, states: readonly ServerState[]): Pools | string {
  const inService = (pool: PoolName) =>
    bg.pools[pool].map((host) => {
      const server = b.servers.get(host)!;
      return states.find((s) => s.name === server)?.inService;
    });
  const blue = inService("blue");
  const green = inService("green");
  if ([...blue, ...green].some((s) => s === undefined))
    return "a server of the pools is unknown to the balancer";
  const all = (list: (boolean | undefined)[], value: boolean) => list.every((s) => s === value);
  if (all(blue, true) && all(green, false)) return { live: "blue", idle: "green" };
  if (all(green, true) && all(blue, false)) return { live: "green", idle: "blue" };
  if (all(blue, true) && all(green, true)) return "both pools are in service";
  return "the pools are partly in service";
}

/**
 * The switch in one step: HAProxy gets every command on one connection (the new pool ready, the old
 * one drained: its requests in flight finish); nginx one upstream file with the old pool down, one reload.
 */
export function switchPools(bg: BlueGreen, b: Balancer, to: PoolName): Cmd {
  const servers = (pool: PoolName) => bg.pools[pool].map((h) => b.servers.get(h)!);
  if (b.type === "haproxy")
    return haproxyAsk(
      b,
      [
        ...servers(to).map((s) => `set server ${b.backend}/${s} state ready`),
        ...servers(otherPool(to)).map((s) => `set server ${b.backend}/${s} state drain`),
      ],
      "silent",
    );
  return nginxSwap(b, nginxUpstream(b, servers(otherPool(to))));
}

/**
 * HAProxy runs every command of a switch even after refusing one (a server deleted at runtime), so a
 * failed switch may leave both pools in service, or neither: the undo sets one pool's servers to
 * `state` (each command on its own: a refused one stops none of the others).
 */
export function setPoolState(
  bg: BlueGreen,
  b: HaproxyBalancer,
  pool: PoolName,
  state: "ready" | "drain",
): Cmd[] {
  return bg.pools[pool].map((h) =>
    haproxyAsk(b, [`set server ${b.backend}/${b.servers.get(h)!} state ${state}`], "silent"),
  );
}
