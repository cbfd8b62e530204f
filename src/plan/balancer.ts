import type { Balancer, HaproxyBalancer, NginxBalancer } from "../config/resolve.js";
import { CutoverError } from "../errors.js";
import { type Cmd, shProgram } from "../shell/cmd.js";

/**
 * The balancer's side of a drained rolling run, as data: what takes a batch out of service, what
 * reads its sessions, what puts it back. Applied by the engine on the balancer host.
 */
export interface BatchDrain {
  /** The batch's servers in the balancer. */
  readonly servers: readonly string[];
  readonly out: Cmd;
  readonly ready: Cmd;
  /** Prints what sessionsOf() reads: the sessions the batch's servers still have. */
  readonly sessions: Cmd;
  readonly timeoutSeconds: number;
}

/**
 * HAProxy's runtime API: one connection, the commands `;`-separated. Perl (and its IO::Socket::UNIX)
 * is on every Debian; the socket and the commands are its arguments. A `set` command answers nothing
 * when it worked, so with "silent" any answer ("Permission denied", "No such server.") fails the step.
 * Bounded: whatever listens on the socket gets 20 s to answer in full, and at most 64 MiB.
 */
const ASK_SOCKET = `exec perl -e '
use IO::Socket::UNIX;
my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "cannot connect to the HAProxy socket $ARGV[0]: $!\\n";
$SIG{ALRM} = sub { die "HAProxy did not answer on $ARGV[0] within 20 s\\n" };
alarm 20;
print $s "$ARGV[1]\\n";
my ($answer, $chunk) = ("", "");
while (sysread($s, $chunk, 65536)) {
  $answer .= $chunk;
  die "HAProxy answered more than 64 MiB on $ARGV[0]\\n" if length($answer) > 64 << 20;
}
alarm 0;
if ($ARGV[2] eq "silent" && $answer =~ /\\S/) { $answer =~ s/\\s+/ /g; die "HAProxy refused: " . substr($answer, 0, 300) . "\\n"; }
print $answer;
' "$1" "$2" "$3"`;

export function haproxyAsk(
  b: HaproxyBalancer,
  commands: readonly string[],
  answer: "silent" | "read" = "read",
): Cmd {
  return shProgram(ASK_SOCKET, [b.socket, commands.join("; "), answer], { label: "ask HAProxy" });
}

function setState(b: HaproxyBalancer, servers: readonly string[], state: "drain" | "ready"): Cmd {
  return haproxyAsk(
    b,
    servers.map((s) => `set server ${b.backend}/${s} state ${state}`),
    "silent",
  );
}

export interface ServerState {
  readonly name: string;
  /** nginx: its line in the upstream file. */
  readonly line?: number;
  /** In service: HAProxy up and ready (not drain or maint); nginx not marked down. */
  readonly inService: boolean;
  readonly why?: string;
}

/**
 * `show servers state BACKEND`: a version line, a `#` header, then one line per server with
 * srv_op_state (2 = running) and srv_admin_state (bits: 0x63 maintenance, forced or inherited; 0x18 drain). 0x04 stays set on a server disabled in the config even once it is ready again.
 */
export function parseHaproxyState(text: string, backend: string): ServerState[] | undefined {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = lines
    .find((l) => l.startsWith("# "))
    ?.slice(2)
    .split(" ");
  if (!header) return undefined;
  const col = (name: string) => header.indexOf(name);
  const [be, srv, op, admin] = ["be_name", "srv_name", "srv_op_state", "srv_admin_state"].map(col);
  if ([be, srv, op, admin].some((i) => i === undefined || i < 0)) return undefined;
  const rows = lines
    .filter((l) => !l.startsWith("#") && l.includes(" "))
    .map((l) => l.split(" "))
    .filter((f) => f[be!] === backend);
  // A state that is no number (a cut or garbled answer) or a server twice is unreadable, not "down".
  const numeric = (v: string | undefined) => /^\d+$/.test(v ?? "");
  const names = rows.map((f) => f[srv!]);
  if (rows.some((f) => !numeric(f[op!]) || !numeric(f[admin!])) || new Set(names).size !== names.length)
    return undefined;
  return rows.map((f) => {
    const opState = Number(f[op!]);
    const adminState = Number(f[admin!]);
    const why =
      adminState & 0x63
        ? "in maintenance"
        : adminState & 0x18
          ? "draining"
          : opState !== 2
            ? "down"
            : undefined;
    return { name: f[srv!]!, inService: why === undefined, ...(why ? { why } : {}) };
  });
}

function unreadableSessions(what: string, why: string, fix: string): CutoverError {
  return new CutoverError("balancer", `balancer: cannot read the ${what}: ${why}`, {
    fix,
    detail: ["an unreadable answer never counts as no sessions: that would end the drain at once"],
  });
}

/**
 * `show stat` CSV: the current sessions (scur) of these servers of the backend. Every server must
 * have a row with a number: anything else (no scur column, an error message) throws.
 */
export function parseHaproxySessions(text: string, backend: string, servers: readonly string[]): number {
  const lines = text.split("\n");
  const header = lines[0]?.startsWith("# ") ? lines[0].slice(2).split(",") : [];
  const scur = header.indexOf("scur");
  const rows = lines.slice(1).map((l) => l.split(","));
  const fail = (why: string) =>
    unreadableSessions(
      `sessions of ${servers.join(", ")} in HAProxy backend ${backend}`,
      why,
      "check that `show stat` on balancer.socket lists these servers of balancer.backend",
    );
  if (header[0] !== "pxname" || header[1] !== "svname" || scur < 0)
    throw fail(`\`show stat\` answered no CSV with a scur column: "${text.slice(0, 100).trim()}"`);
  return servers.reduce((sum, server) => {
    const row = rows.find((f) => f[0] === backend && f[1] === server);
    if (row === undefined) throw fail(`server ${server} is not in the answer`);
    if (!/^\d+$/.test(row[scur] ?? "")) throw fail(`server ${server} has scur "${row[scur] ?? ""}"`);
    return sum + Number(row[scur]);
  }, 0);
}

/** The upstream file: only server lines, included in the `upstream` block of the nginx config. */
export function nginxUpstream(b: NginxBalancer, down: readonly string[]): string {
  const lines = [...b.servers.values()].map((a) => `server ${a}${down.includes(a) ? " down" : ""};`);
  return `# written by cutover: included in the upstream block; servers marked down are being deployed\n${lines.join("\n")}\n`;
}

/**
 * Server addresses of an upstream file, and whether each is marked down. The swap writes the file
 * anew from balancer.servers, so what it would drop (a parameter, a directive, a server twice) is a
 * reason naming the line, not a state; servers it does not map are for checkBalancer to name.
 */
export function parseNginxUpstream(text: string): ServerState[] | string {
  const states: ServerState[] = [];
  const seen = new Set<string>();
  for (const [i, line] of text.split("\n").entries()) {
    const code = line.replace(/#.*/, "").trim();
    if (code === "") continue;
    const m = /^server\s+([^\s;]+)(\s+down)?\s*;$/.exec(code);
    const name = m?.[1];
    if (!name || seen.has(name))
      return `line ${i + 1}: "${code.slice(0, 100)}" is not a server listed once as \`server ADDRESS;\` or \`server ADDRESS down;\``;
    const down = m[2] !== undefined;
    seen.add(name);
    states.push({ name, inService: !down, ...(down ? { why: "marked down" } : {}), line: i + 1 });
  }
  return states;
}

/**
 * Next to the upstream file while nginx may not have loaded it: made before the rename, removed once
 * nginx serves what the file says. A run killed in between leaves it; the next run reloads first.
 */
export const reloadPending = (b: NginxBalancer): string => `${b.upstreamFile}.cutover-reload-pending`;

/**
 * Rewrites the upstream file atomically (temp file, rename), then tests the nginx config: a failed
 * test puts the old file back and reloads nothing. Then the reload: a failed one puts the old file
 * back too, since nginx still serves it and the next run reads the file as what nginx serves. The
 * directory may be writable by others: the file must be a regular file (never written through a
 * link), the temp and backup files get fresh names (mktemp, O_EXCL), the pending mark is a
 * directory (mkdir follows no link), and any failure stops before the reload (set -e).
 */
const SWAP_UPSTREAM = `set -e
file=$1; pending=$5; tmp=; old=
trap 'rm -f -- \${tmp:+"$tmp"} \${old:+"$old"}' EXIT
if [ -L "$file" ] || [ ! -f "$file" ]; then
  echo "the upstream file $file is not a regular file (missing, or a symlink): refusing to replace it" >&2; exit 1
fi
tmp=$(mktemp -- "$file.cutover-tmp.XXXXXX")
printf '%s' "$2" > "$tmp"
chmod --reference="$file" -- "$tmp"
old=$(mktemp -- "$file.cutover-old.XXXXXX")
cat -- "$file" > "$old"
chmod --reference="$file" -- "$old"
{ [ -d "$pending" ] && [ ! -L "$pending" ]; } || mkdir -- "$pending"
mv -f -- "$tmp" "$file"; tmp=
put_back() {
  if mv -f -- "$old" "$file"; then old=; rmdir -- "$pending"; echo "$1: the upstream file was put back" >&2
  else echo "$1, and the upstream file could NOT be put back: restore $file from $old by hand" >&2; old=
  fi
  exit 1
}
sh -c "$3" >&2 || put_back "nginx config test failed"
sh -c "$4" >&2 || put_back "nginx reload failed ($4)"
rmdir -- "$pending"`;

export function nginxSwap(b: NginxBalancer, content: string): Cmd {
  const args = [b.upstreamFile, content, b.testCommand, b.reloadCommand, reloadPending(b)];
  return shProgram(SWAP_UPSTREAM, args, {
    label: "write the upstream file, test it, reload nginx",
  });
}

/** Connections the balancer host holds to these addresses (nginx opens one per request in flight). */
const COUNT_CONNECTIONS = `n=0
for a in "$@"; do c=$(ss -Htn state established dst "$a" | wc -l); n=$((n + c)); done
echo "$n"`;

/** The addresses are countable ones: the config refuses others (COUNTABLE_ADDRESS). */
export function nginxSessions(addresses: readonly string[]): Cmd {
  return shProgram(COUNT_CONNECTIONS, addresses, { label: "count connections to the servers" });
}

/** Drain batches: at most `maxUnavailable` of `hosts` at once (at least one). */
export function drainBatchCap(b: Balancer, hosts: number): number {
  const cap =
    typeof b.maxUnavailable === "number"
      ? b.maxUnavailable
      : Math.floor((Number.parseInt(b.maxUnavailable, 10) / 100) * hosts);
  return Math.max(cap, 1);
}

/** Each batch's balancer actions, for batches of host names. */
export function planDrains(b: Balancer, batches: readonly (readonly string[])[]): BatchDrain[] {
  return batches.map((hosts) => {
    const servers = hosts.map((h) => b.servers.get(h)!);
    if (b.type === "haproxy")
      return {
        servers,
        out: setState(b, servers, "drain"),
        ready: setState(b, servers, "ready"),
        sessions: haproxyAsk(b, ["show stat"]),
        timeoutSeconds: b.drainTimeoutSeconds,
      };
    return {
      servers,
      out: nginxSwap(b, nginxUpstream(b, servers)),
      ready: nginxSwap(b, nginxUpstream(b, [])),
      sessions: nginxSessions(servers),
      timeoutSeconds: b.drainTimeoutSeconds,
    };
  });
}

export function sessionsOf(b: Balancer, drain: BatchDrain, stdout: string): number {
  return b.type === "haproxy"
    ? parseHaproxySessions(stdout, b.backend, drain.servers)
    : connectionCount(drain.servers, stdout);
}

function connectionCount(servers: readonly string[], stdout: string): number {
  const count = stdout.trim();
  if (!/^\d+$/.test(count))
    throw unreadableSessions(
      `connections to ${servers.join(", ")}`,
      `the count was "${count.slice(0, 100)}"`,
      "check that `ss` (iproute2) runs on the balancer host",
    );
  return Number(count);
}
