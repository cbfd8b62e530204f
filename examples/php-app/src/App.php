<?php
declare(strict_types=1);

final class App
{
    public function __construct(private string $root)
    {
    }

    /** The release directory name, e.g. 20261127T101500Z (or "dev" when not deployed by cutover). */
    public function release(): string
    {
        $name = basename($this->root);
        return preg_match('/^\d{8}T\d{6}Z/', $name) === 1 ? $name : 'dev';
    }

    /** @return array<string, string> settings from the shared .env file */
    public function config(): array
    {
        $file = $this->root . '/.env';
        if (!is_file($file)) {
            return [];
        }
        $values = [];
        foreach (file($file, FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES) ?: [] as $line) {
            if (str_starts_with(trim($line), '#') || !str_contains($line, '=')) {
                continue;
            }
            [$key, $value] = explode('=', $line, 2);
            $values[trim($key)] = trim($value);
        }
        return $values;
    }

    public function uploadsDir(): string
    {
        return $this->root . '/storage/uploads';
    }

    public function render(): string
    {
        $name = htmlspecialchars($this->config()['APP_NAME'] ?? 'example', ENT_QUOTES);
        $uploads = count(glob($this->uploadsDir() . '/*') ?: []);
        $release = htmlspecialchars($this->release(), ENT_QUOTES);
        return "<!doctype html><title>{$name}</title><h1>{$name}</h1>"
            . "<p>Release <code>{$release}</code>, {$uploads} uploaded file(s).</p>\n";
    }
}
