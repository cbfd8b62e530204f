/**
 * Extensions of PHP source that php-fpm does not run (only .php goes to PHP: its
 * security.limit_extensions allows no more), so a web server hands such a file out as text, its
 * source and secrets with it. Besides these, .php with digits (.php5) and in another case (.PHP).
 * The printed configs deny them; doctor asks the web server for a few it finds.
 */
export const OTHER_PHP_EXTENSIONS = ["pht", "phtml", "phar", "phps", "phpt", "inc"] as const;
