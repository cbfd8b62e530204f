/**
 * A FastCGI client in PHP, run with the host's php-cli. php-cli is on every PHP server, unlike
 * cgi-fcgi (libfcgi) or cachetool.phar, so nothing is downloaded or installed on the host.
 * Usage: php client.php ADDRESS SCRIPT_FILENAME [QUERY_STRING] [SECONDS]; ADDRESS is a socket path,
 * unix:/path or host:port. Prints the response body; exits 2 (transport, an answer over 16 MiB, or
 * none complete within SECONDS in all, 120 by default) or 3 (HTTP status >= 400). Records of another
 * request id are skipped.
 */
export const FCGI_CLIENT_PHP = `<?php
[, $address, $script] = $argv;
$query = $argv[3] ?? '';
$seconds = (float) ($argv[4] ?? 120);
// A deadline for the whole exchange: a peer that trickles bytes resets any idle timeout.
$deadline = microtime(true) + $seconds;
$target = str_starts_with($address, 'unix:') ? 'unix://' . substr($address, 5)
    : (str_starts_with($address, '/') ? "unix://$address" : "tcp://$address");
$sock = @stream_socket_client($target, $errno, $errstr, min(10, $seconds));
if (!$sock) { fwrite(STDERR, "cannot connect to FastCGI at $address: $errstr\\n"); exit(2); }
function record(int $type, string $content): string {
    return pack('CCnnCx', 1, $type, 1, strlen($content), 0) . $content;
}
function pair(string $k, string $v): string {
    $len = fn(int $n) => $n < 128 ? chr($n) : pack('N', $n | 0x80000000);
    return $len(strlen($k)) . $len(strlen($v)) . $k . $v;
}
function readn($sock, int $n): string {
    global $address, $seconds, $deadline;
    $data = '';
    while (strlen($data) < $n) {
        $left = $deadline - microtime(true);
        if ($left <= 0) {
            fwrite(STDERR, "no complete FastCGI answer from $address within $seconds s\\n");
            exit(2);
        }
        stream_set_timeout($sock, (int) $left, (int) (fmod($left, 1) * 1e6));
        $chunk = fread($sock, $n - strlen($data));
        if ($chunk === false || $chunk === '') {
            // Timed out: the deadline above ends it.
            if (feof($sock)) break;
            continue;
        }
        $data .= $chunk;
    }
    return $data;
}
$name = '/' . basename($script);
$params = [
    'GATEWAY_INTERFACE' => 'FastCGI/1.0', 'REQUEST_METHOD' => 'GET', 'SCRIPT_FILENAME' => $script,
    'SCRIPT_NAME' => $name, 'REQUEST_URI' => $name . ($query === '' ? '' : "?$query"), 'QUERY_STRING' => $query,
    'DOCUMENT_ROOT' => dirname($script), 'SERVER_SOFTWARE' => 'cutover', 'SERVER_PROTOCOL' => 'HTTP/1.1',
    'SERVER_NAME' => 'localhost', 'SERVER_PORT' => '80', 'REMOTE_ADDR' => '127.0.0.1', 'CONTENT_LENGTH' => '0',
];
$body = '';
foreach ($params as $k => $v) $body .= pair($k, (string) $v);
fwrite($sock, record(1, pack('nCx5', 1, 0)) . record(4, $body) . record(4, '') . record(5, ''));
$out = '';
$err = '';
// Bounded: whatever listens on the address may answer without end (php-cli has no memory_limit).
$max = 16 << 20;
for (;;) {
    $head = readn($sock, 8);
    if (strlen($head) < 8) { fwrite(STDERR, "FastCGI connection to $address closed early\\n"); exit(2); }
    $r = unpack('Cversion/Ctype/nid/nlen/Cpad/Cres', $head);
    $content = $r['len'] > 0 ? readn($sock, $r['len']) : '';
    if ($r['pad'] > 0) readn($sock, $r['pad']);
    if ($r['id'] !== 1) continue;
    if (strlen($out) + strlen($err) + strlen($content) > $max) {
        fwrite(STDERR, "FastCGI answer from $address is larger than " . ($max >> 20) . " MiB: is this a php-fpm pool?\n");
        exit(2);
    }
    if ($r['type'] === 6) $out .= $content;
    elseif ($r['type'] === 7) $err .= $content;
    elseif ($r['type'] === 3) break;
}
[$headers, $content] = array_pad(explode("\\r\\n\\r\\n", $out, 2), 2, '');
if ($err !== '') fwrite(STDERR, $err);
if (preg_match('/^Status: (\\d+)/mi', $headers, $m) && (int) $m[1] >= 400) {
    fwrite(STDERR, "HTTP $m[1] from $address: $content\\n");
    exit(3);
}
echo $content;
`;
