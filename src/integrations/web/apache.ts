import { type Cmd, shProgram } from "../../shell/cmd.js";

// Children of an Apache parent (by the kernel's process name), as "pid:starttime": the start time
// tells a child from a later process that reused its pid. Read-only, no matter whose they are.
const CHILDREN = `for p in /proc/[0-9]*; do
  read -r comm < "$p/comm" 2>/dev/null || continue
  case $comm in apache2|httpd) ;; *) continue ;; esac
  stat=$(cat "$p/stat" 2>/dev/null) || continue
  set -- \${stat##*) }
  read -r parent < "/proc/$2/comm" 2>/dev/null || continue
  case $parent in apache2|httpd) printf '%s:%s\\n' "\${p#/proc/}" "\${20}" ;; esac
done
exit 0
`;

/** Lists Apache's child processes before a graceful reload. */
export function apacheChildren(): Cmd {
  return shProgram(CHILDREN, []);
}

const WAIT = `deadline=$(( $(date +%s) + $1 )); shift
children=$*
while :; do
  left=
  for child in $children; do
    stat=$(cat "/proc/\${child%%:*}/stat" 2>/dev/null) || continue
    set -- \${stat##*) } && [ "\${20}" = "\${child#*:}" ] && left="$left \${child%%:*}"
  done
  [ -z "$left" ] && exit 0
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "still running:$left"; exit 3; fi
  sleep 0.05
done
`;

/**
 * Waits until every listed child has exited. After a graceful reload the old children finish the
 * request they serve and exit; until they have, one of them may still take a new connection.
 */
export function waitForExit(children: readonly string[], seconds: number): Cmd {
  return shProgram(WAIT, [String(Math.ceil(seconds)), ...children]);
}

export function parseChildren(output: string): string[] {
  return output.split("\n").filter((line) => /^\d+:\d+$/.test(line));
}
