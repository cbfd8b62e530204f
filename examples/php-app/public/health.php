<?php
// Health endpoint: 200 with the release id when the app can read its config and write uploads.
declare(strict_types=1);

require __DIR__ . '/../src/App.php';

$app = new App(dirname(__DIR__));
header('Content-Type: application/json');
header('X-Release: ' . $app->release());
$ok = $app->config() !== [] && is_writable($app->uploadsDir());
http_response_code($ok ? 200 : 500);
echo json_encode(['ok' => $ok, 'release' => $app->release()]), "\n";
