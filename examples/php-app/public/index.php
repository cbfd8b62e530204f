<?php
// Front controller of the example app. Paths come from __DIR__, never from `current`, so a
// request that is running while `current` switches keeps reading from its own release.
declare(strict_types=1);

require __DIR__ . '/../src/App.php';

$app = new App(dirname(__DIR__));
header('Content-Type: text/html; charset=utf-8');
header('X-Release: ' . $app->release());
echo $app->render();
