import { type Cmd, shProgram } from "../../shell/cmd.js";

/**
 * The web servers on a host: every running nginx master (its executable and process title, which
 * holds the `-c` it was started with) and Apache parent (its arguments, one per line), and whether
 * nginx is installed. Read-only.
 */
const SERVERS = `for p in /proc/[0-9]*; do
  read -r comm < "$p/comm" 2>/dev/null || continue
  case $comm in
    nginx)
      title=$(tr '\\0\\n' '  ' < "$p/cmdline" 2>/dev/null) || continue
      case $title in "nginx: master process "*) printf '@@nginx %s\\t%s\\n' "$(readlink "$p/exe")" "\${title#nginx: master process }" ;; esac ;;
    apache2|httpd)
      stat=$(cat "$p/stat" 2>/dev/null) || continue
      set -- \${stat##*) }
      read -r parent < "/proc/$2/comm" 2>/dev/null
      case $parent in apache2|httpd) continue ;; esac
      printf '@@apache %s\\n' "$(readlink "$p/exe")"
      tr '\\n\\0' ' \\n' < "$p/cmdline" 2>/dev/null | sed 's/^/@@arg /' ;;
  esac
done
command -v nginx >/dev/null 2>&1 && printf '@@nginx-installed %s\\n' "$(command -v nginx)"
exit 0
`;

export function listWebServers(): Cmd {
  return shProgram(SERVERS, []);
}

export interface NginxServer {
  readonly executable: string;
  /** The -c it runs with; undefined for the compiled-in default (/etc/nginx/nginx.conf). */
  readonly config: string | undefined;
}

export interface ApacheServer {
  readonly config: string | undefined;
  readonly serverRoot: string | undefined;
}

export interface WebServers {
  readonly nginx: readonly NginxServer[];
  readonly apache: readonly ApacheServer[];
}

/**
 * nginx's process title joins its arguments with spaces, so a -c path with spaces is read up to the
 * next ` -x ` option or the end.
 */
function nginxConfigArg(title: string): string | undefined {
  return /(?:^|\s)-c\s+(.+?)(?=\s+-[a-zA-Z]\s|\s*$)/.exec(title)?.[1];
}

export function parseWebServers(output: string): WebServers {
  const nginx: NginxServer[] = [];
  const apache: { config?: string; serverRoot?: string }[] = [];
  let args: string[] | undefined;
  const flushApache = () => {
    if (!args) return;
    const value = (flag: string) => {
      const i = args!.indexOf(flag);
      return i >= 0 ? args![i + 1] : undefined;
    };
    apache.push({ config: value("-f"), serverRoot: value("-d") });
    args = undefined;
  };
  for (const line of output.split("\n")) {
    if (line.startsWith("@@nginx ")) {
      const [exe, title] = line.slice(8).split("\t");
      nginx.push({ executable: exe || "nginx", config: nginxConfigArg(title ?? "") });
    } else if (line.startsWith("@@nginx-installed ")) {
      if (!nginx.some((n) => n.config === undefined))
        nginx.push({ executable: line.slice(18), config: undefined });
    } else if (line.startsWith("@@apache ")) {
      flushApache();
      args = [];
    } else if (line.startsWith("@@arg ") && args) args.push(line.slice(6));
  }
  flushApache();
  const unique = <T>(items: T[]) => [...new Map(items.map((i) => [JSON.stringify(i), i])).values()];
  return {
    nginx: unique(nginx),
    apache: unique(apache).map((a) => ({ config: a.config, serverRoot: a.serverRoot })),
  };
}

/** All the text one read hands back (and an nginx -T dump): the parser reads no more per config. */
const MAX_BYTES = 32 * 1024 * 1024;

const NGINX_DUMP = `bin=$1; shift
"$bin" -T "$@" 2>/dev/null | head -c ${MAX_BYTES}
exit 0
`;

/** `nginx -T`: the configuration nginx loads, every included file in full, as nginx resolved them. */
export function nginxDump(server: NginxServer): Cmd {
  return shProgram(NGINX_DUMP, [server.executable, ...(server.config ? ["-c", server.config] : [])]);
}

/** The files of an `nginx -T` dump, by path; the first is the main config. */
export function parseNginxDump(output: string): Map<string, string> {
  const files = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split("\n")) {
    const header = /^# configuration file (\/.*):$/.exec(line);
    if (header) {
      current = [];
      files.set(header[1]!, current);
    } else current?.push(line);
  }
  return new Map([...files].map(([file, lines]) => [file, lines.join("\n")]));
}

const MAX_FILES = 2000;

/**
 * The files the arguments name (glob patterns expanded by the shell, directories walked through
 * symlinks, as sites-enabled/ holds them), each as `@@file PATH`, `@@real PATH` and its lines behind
 * `|`, so no content can pass for a marker. Unreadable or missing ones are skipped: that is an answer
 * too (a path that does not exist, or a pattern that matched nothing, is said as `@@missing PATH`).
 * Bounded: an include that globs half the disk reads at most MAX_FILES paths of 1 MiB each, and
 * MAX_BYTES in all (the last file cut short).
 */
const READ = `IFS=
emit() {
  case $1 in *'
'*) return ;; esac
  [ -f "$1" ] && [ -r "$1" ] || return 0
  printf '@@file %s\\n@@real %s\\n' "$1" "$(readlink -f "$1")"
  head -c 1048576 "$1" | sed 's/^/|/'
  printf '\\n'
}
n=0
for pattern; do
  for f in $pattern; do
    n=$((n + 1)); [ "$n" -gt ${MAX_FILES} ] && exit 0
    if [ ! -e "$f" ] && [ ! -L "$f" ]; then
      case $f in *'
'*) ;; *) printf '@@missing %s\n' "$f" ;; esac
    elif [ -d "$f" ]; then
      find -L "$f" -type f 2>/dev/null | head -n ${MAX_FILES} | sort | while read -r g; do emit "$g"; done
    else
      emit "$f"
    fi
  done
done | head -c ${MAX_BYTES}
exit 0
`;

export function readConfigFiles(patterns: readonly string[]): Cmd {
  return shProgram(READ, patterns);
}

export interface ConfigFiles {
  readonly texts: Map<string, string>;
  /** Each file's path with symlinks resolved (sites-enabled/app → sites-available/app). */
  readonly real: Map<string, string>;
  /** Paths asked for that do not exist (or patterns that matched nothing). */
  readonly missing: Set<string>;
}

export function parseConfigFiles(output: string): ConfigFiles {
  const files = new Map<string, string[]>();
  const real = new Map<string, string>();
  const missing = new Set<string>();
  let file: string | undefined;
  for (const line of output.split("\n")) {
    if (line.startsWith("@@missing ")) {
      missing.add(line.slice(10));
      file = undefined;
    } else if (line.startsWith("@@file ")) {
      file = line.slice(7);
      files.set(file, []);
    } else if (line.startsWith("@@real ") && file !== undefined) real.set(file, line.slice(7));
    else if (file !== undefined && line.startsWith("|")) files.get(file)!.push(line.slice(1));
  }
  return { texts: new Map([...files].map(([f, lines]) => [f, lines.join("\n")])), real, missing };
}
