/**
 * The script cutover runs inside a php-fpm pool (through FastCGI), written outside the docroot and
 * removed afterwards. Actions: status (what this worker sees), reset (opcache_reset, which also makes
 * every worker drop its realpath cache on its next request), warmup (opcache_compile_file on the
 * release's real paths). It always reports which release `current` resolves to *in this worker*
 * (through its realpath cache), and the OPcache state.
 */
export function runtimeScriptPhp(currentPath: string, warmupList: string): string {
  return `<?php
$current = ${phpString(currentPath)};
$list = ${phpString(warmupList)};
$action = $_GET['action'] ?? 'status';
$oc = function_exists('opcache_get_status');
$result = ['pid' => getmypid(), 'sapi' => PHP_SAPI, 'action' => $action];
if ($action === 'reset') {
    $result['reset'] = function_exists('opcache_reset') && @opcache_reset();
}
if ($action === 'warmup') {
    $ok = 0;
    $failed = [];
    foreach (is_file($list) ? file($list, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) : [] as $file) {
        if ($oc && @opcache_compile_file($file)) $ok++; else $failed[] = $file;
    }
    $result['compiled'] = $ok;
    $result['failed'] = array_slice($failed, 0, 10);
}
$status = $oc ? @opcache_get_status(false) : false;
// OPcache on, but this script may not reset or read it: the pool would keep the old compiled code.
if (extension_loaded('Zend OPcache') && ini_get('opcache.enable')) {
    if (!$oc || !function_exists('opcache_reset'))
        $result['refused'] = 'disable_functions blocks opcache_reset or opcache_get_status';
    elseif ($status === false)
        $result['refused'] = ini_get('opcache.restrict_api') !== ''
            ? 'opcache.restrict_api (' . ini_get('opcache.restrict_api') . ') excludes ' . __FILE__
            : 'opcache_get_status() returned false';
}
$result['opcache'] = $status ? [
    'enabled' => $status['opcache_enabled'],
    'restart_pending' => $status['restart_pending'],
    'restart_in_progress' => $status['restart_in_progress'],
] : null;
$result['ini'] = [
    'opcache.enable' => ini_get('opcache.enable'),
    'opcache.validate_timestamps' => ini_get('opcache.validate_timestamps'),
    'opcache.revalidate_path' => ini_get('opcache.revalidate_path'),
    'opcache.revalidate_freq' => ini_get('opcache.revalidate_freq'),
    'opcache.preload' => ini_get('opcache.preload'),
    'realpath_cache_ttl' => ini_get('realpath_cache_ttl'),
    'session.save_path' => ini_get('session.save_path'),
];
$result['fpm'] = PHP_SAPI === 'fpm-fcgi' ? fpm_master() : null;
$result['serving'] = realpath($current);
header('Content-Type: application/json');
echo json_encode($result), "\\n";

// The php-fpm master (this worker's parent) names its config in its title; a reload (USR2) kills
// requests still running after process_control_timeout, which is 0 (kill at once) unless set.
function fpm_master() {
    $stat = (string) @file_get_contents('/proc/self/stat');
    $fields = explode(' ', substr($stat, (int) strrpos($stat, ')') + 2));
    $ppid = (int) ($fields[1] ?? 0);
    $title = $ppid > 0 ? (string) @file_get_contents("/proc/$ppid/cmdline") : '';
    $config = preg_match('/master process \\((.+)\\)/', $title, $m) ? $m[1] : null;
    return [
        'master_pid' => $ppid,
        'config' => $config,
        'process_control_timeout' => $config === null ? null : fpm_control_timeout($config),
    ];
}

// Seconds, from [global] in the main file and the files it includes; null if unreadable.
function fpm_control_timeout($config) {
    $files = [$config];
    $seconds = 0;
    for ($i = 0; $i < count($files) && $i < 100; $i++) {
        $lines = @file($files[$i], FILE_IGNORE_NEW_LINES);
        if ($lines === false) return $i === 0 ? null : $seconds;
        $global = $i === 0;
        foreach ($lines as $line) {
            $line = trim($line);
            if (preg_match('/^\\[(.+)\\]$/', $line, $m)) $global = $m[1] === 'global';
            elseif (preg_match('/^include\\s*=\\s*"?([^"]+)"?$/', $line, $m)) $files = array_merge($files, glob($m[1]) ?: []);
            elseif ($global && preg_match('/^process_control_timeout\\s*=\\s*"?(\\d+)([smhd]?)"?$/', $line, $m))
                $seconds = (int) $m[1] * ['' => 1, 's' => 1, 'm' => 60, 'h' => 3600, 'd' => 86400][$m[2]];
        }
    }
    return $seconds;
}
`;
}

/** A PHP single-quoted literal: nothing inside is interpolated ($ stays a dollar). */
export function phpString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

export interface RuntimeReport {
  readonly pid: number;
  readonly sapi: string;
  readonly reset?: boolean;
  readonly compiled?: number;
  readonly failed?: readonly string[];
  readonly opcache: { enabled: boolean; restart_pending: boolean; restart_in_progress: boolean } | null;
  readonly ini: Readonly<Record<string, string | false>>;
  readonly serving: string | false;
  /** Why OPcache is on in the pool but cannot be reset or read (disable_functions, restrict_api). */
  readonly refused?: string;
  /** Only under php-fpm: its master and how long a reload lets running requests finish. */
  readonly fpm?: {
    readonly master_pid: number;
    readonly config: string | null;
    readonly process_control_timeout: number | null;
  } | null;
}

/**
 * The reports in a pool's answers, one JSON object a line. Whatever listens on the pool's address
 * wrote them: a line that is not a JSON object with a pid is no report (skipped, never thrown).
 */
export function parseReports(output: string): RuntimeReport[] {
  return output
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .flatMap((l) => {
      try {
        const report = JSON.parse(l) as RuntimeReport | null;
        return typeof report === "object" && report !== null && typeof report.pid === "number"
          ? [report]
          : [];
      } catch {
        return [];
      }
    });
}
