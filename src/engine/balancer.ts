import type { Balancer, ResolvedHost, ResolvedStage } from "../config/resolve.js";
import { CutoverError } from "../errors.js";
import {
  haproxyAsk,
  parseHaproxyState,
  parseNginxUpstream,
  reloadPending,
  type ServerState,
} from "../plan/balancer.js";
import { shProgram } from "../shell/cmd.js";
import type { Executor } from "../transport/executor.js";
import { ownDrainedHosts } from "./drain-marks.js";
import { type ExecutorFactory, openTargets } from "./targets.js";

/** The balancer and the shell on its host (this machine, or over SSH). */
export interface BalancerLink {
  readonly config: Balancer;
  readonly executor: Executor;
  /** A run that changes the balancer: it first finishes a switch a killed run left half done. */
  readonly finishesSwitch: boolean;
  /** Hosts whose server a stopped cutover run left out of service (drain marks): put back under the lock. */
  ownDrained?: readonly string[];
  /** The longest a swap can run (command_timeout): an older leftover of one is no swap in flight. */
  readonly swapLimitSeconds?: number;
  close(): Promise<void>;
}

export function describeBalancer(b: Balancer): string {
  const where = b.ssh ? ` on ${b.ssh.host}` : "";
  return b.type === "haproxy"
    ? `HAProxy backend ${b.backend} (socket ${b.socket}${where})`
    : `nginx upstream file ${b.upstreamFile}${where}`;
}

export function openBalancer(
  stage: ResolvedStage,
  make?: ExecutorFactory,
  finishesSwitch = false,
): BalancerLink {
  const b = stage.balancer!;
  const host: ResolvedHost = { name: "balancer", path: "/", ssh: b.ssh, roles: [] };
  const targets = openTargets(stage, [host], make);
  return {
    config: b,
    executor: targets[0]!.executor,
    finishesSwitch,
    swapLimitSeconds: stage.commandTimeoutSeconds,
    close: () => targets.close(),
  };
}

/**
 * The upstream file, and whether nginx accepts its config now (its first [emerg] line, or last line,
 * if not). Only a regular file, as the swap takes (a fifo would hold the read until the command
 * timeout; a symlink the swap refuses would stop a rolling run halfway). A pending mark ($4) means a
 * killed swap renamed the file in place but nginx may not have loaded it: the file is not what nginx
 * serves, so a run that changes the balancer reloads first ($5 = finish), and a read-only one refuses.
 */
const READ_UPSTREAM = `if [ -L "$1" ] || [ ! -f "$1" ]; then
  echo "the upstream file $1 is not a regular file (missing, or a symlink)" >&2; exit 1
fi
test_nginx() {
  if ! out=$(sh -c "$1" 2>&1); then
    why=$(printf '%s\\n' "$out" | grep -m 1 -F '[emerg]' || printf '%s\\n' "$out" | tail -n 1)
    printf 'nginx config test failed (%s): %s\\n' "$1" "$why" >&2
    exit 1
  fi
}
# The temp and backup files of a swap that was stopped (mktemp's names: six letters or digits),
# removed by a run that changes the balancer: only regular files of this user (never a link or a
# directory) older than any swap can run ($6 minutes), so a swap in flight keeps its own.
remove_leftovers() {
  for f in "$1".cutover-tmp.* "$1".cutover-old.*; do
    case \${f#"$1".cutover-} in
      tmp.$six | old.$six) ;;
      *) continue ;;
    esac
    case $f in /*) ;; *) f=./$f ;; esac
    if [ -f "$f" ] && [ ! -L "$f" ] && [ -O "$f" ] && [ -n "$(find "$f" -maxdepth 0 -type f -mmin "+$2")" ]; then
      rm -f -- "$f"
    fi
  done
}
an='[A-Za-z0-9]'; six=$an$an$an$an$an$an
if [ -d "$4" ] && [ ! -L "$4" ]; then
  if [ "$5" != finish ]; then
    echo "a switch was interrupted after $1 was replaced and before nginx reloaded it, so nginx may serve the file before it: the next deploy or switch-back reloads nginx first (or run the reload_command and remove $4)" >&2
    exit 1
  fi
  test_nginx "$2"
  sh -c "$3" >&2 || { echo "nginx reload failed ($3) while finishing an interrupted switch" >&2; exit 1; }
  rmdir -- "$4"
fi
[ "$5" != finish ] || remove_leftovers "$1" "$6"
cat -- "$1" || exit 1
test_nginx "$2"`;

function unreachable(b: Balancer, why: string): CutoverError {
  return new CutoverError("balancer", `balancer: cannot read ${describeBalancer(b)}: ${why}`, {
    state: "nothing was changed",
    fix:
      b.type === "haproxy"
        ? "check balancer.socket (HAProxy's `stats socket PATH level admin`), balancer.backend and that HAProxy runs"
        : "check balancer.upstream_file and balancer.test_command on the balancer host",
  });
}

/** The upstream file holds what a swap, which writes it from balancer.servers, would drop. */
function rewriteWouldDrop(b: Balancer, why: string): CutoverError {
  return new CutoverError("balancer", `balancer: ${describeBalancer(b)}: ${why}`, {
    state: "nothing was changed",
    fix: "cutover writes this file anew from balancer.servers: keep only those servers in it (others, parameters and directives go in the upstream block around the include)",
  });
}

/** Every server of the balancer with its state; throws a one-line error when it cannot be read. */
export async function readServers(link: BalancerLink): Promise<ServerState[]> {
  const b = link.config;
  const asked =
    b.type === "haproxy"
      ? haproxyAsk(b, [`show servers state ${b.backend}`])
      : shProgram(
          READ_UPSTREAM,
          [
            b.upstreamFile,
            b.testCommand,
            b.reloadCommand,
            reloadPending(b),
            link.finishesSwitch ? "finish" : "read",
            String(Math.ceil((link.swapLimitSeconds ?? 3600) / 60)),
          ],
          {
            label: "read the upstream file, test nginx",
          },
        );
  const result = await link.executor
    .run([asked])
    .catch((e: Error) => ({ code: -1, stdout: Buffer.from(""), stderr: e.message }));
  const text = result.stdout.toString("utf8");
  const lastLine = (s: string) => s.trim().split("\n").at(-1) ?? "";
  if (result.code !== 0) throw unreachable(b, lastLine(result.stderr) || `exit ${result.code}`);
  if (b.type === "nginx") {
    const states = parseNginxUpstream(text);
    if (typeof states === "string") throw rewriteWouldDrop(b, states);
    return states;
  }
  const states = parseHaproxyState(text, b.backend);
  if (!states) throw unreachable(b, lastLine(text) || "no answer");
  return states;
}

/**
 * Before anything changes: the balancer answers, knows every host's server, and (for a run that
 * takes servers out) none is out of service already, since that would take more capacity out.
 */
export async function checkBalancer(
  link: BalancerLink,
  hosts: readonly ResolvedHost[],
  requireInService: boolean,
  /** Of the hosts out of service, those cutover itself took out (then not refused). */
  ownDrains?: (out: { host: ResolvedHost; state: ServerState }[]) => Promise<readonly string[]>,
): Promise<ServerState[]> {
  const b = link.config;
  const states = await readServers(link);
  const out = hosts.flatMap((host) => {
    const state = states.find((s) => s.name === b.servers.get(host.name));
    return state && !state.inService ? [{ host, state }] : [];
  });
  const own: readonly string[] = requireInService && ownDrains && out.length > 0 ? await ownDrains(out) : [];
  for (const h of hosts) {
    const server = b.servers.get(h.name)!;
    const state = states.find((s) => s.name === server);
    if (!state)
      throw new CutoverError(
        "balancer",
        `balancer: host ${h.name}: ${describeBalancer(b)} has no server "${server}"`,
        {
          state: "nothing was changed",
          fix: `known servers: ${states.map((s) => s.name).join(", ") || "none"}; map the host with balancer.servers.${h.name}`,
        },
      );
    if (requireInService && !state.inService && !own.includes(h.name))
      throw new CutoverError(
        "balancer",
        `balancer: host ${h.name}: server "${server}" is ${state.why} in ${describeBalancer(b)}`,
        {
          state: "nothing was changed",
          fix: "put it back in service (or find out why it is down) before a deploy takes more servers out (cutover puts back only servers it took out itself, told by .cutover/drained.json on the host)",
        },
      );
  }
  const mapped = [...b.servers.values()];
  const stray = b.type === "nginx" && states.find((s) => !mapped.includes(s.name));
  if (stray) throw rewriteWouldDrop(b, `line ${stray.line}: server ${stray.name} is not in balancer.servers`);
  return states;
}

/**
 * Runs `work` with the stage's balancer when a rolling run drains through it, checked first (before
 * any lock or change); without one, `work` gets undefined.
 */
export async function withBalancer<T>(
  stage: ResolvedStage,
  hosts: readonly ResolvedHost[],
  make: ExecutorFactory | undefined,
  work: (link: BalancerLink | undefined) => Promise<T>,
  /** The hosts the run changes (--hosts): only their servers can be put back under their locks. */
  running: readonly ResolvedHost[] = hosts,
): Promise<T> {
  if (!stage.balancer || !stage.rolling) return work(undefined);
  const link = openBalancer(stage, make, true);
  try {
    await checkBalancer(link, hosts, true, async (out) => {
      const own = await ownDrainedHosts(stage, link, out, make);
      const outside = own.find((name) => !running.some((h) => h.name === name));
      if (outside)
        throw new CutoverError(
          "balancer",
          `balancer: host ${outside}: server "${link.config.servers.get(outside)}", left out of service by a cutover run that stopped, is not in this run`,
          {
            state: "nothing was changed",
            fix: `run without --hosts (or with ${outside} among them): the run puts it back in service before it takes others out`,
          },
        );
      link.ownDrained = own;
      return own;
    });
    return await work(link);
  } finally {
    await link.close();
  }
}
