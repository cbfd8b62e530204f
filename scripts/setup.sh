#!/usr/bin/env bash
# Installs what cutover and its tests need on Debian 12 (as root): system packages when missing,
# then the npm dependencies, then the build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have rsync || need+=(rsync)
have ssh || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
have git || need+=(git)
have openssl || need+=(openssl) # hosts hash with openssl's SHA-256 where it answers right; the tests run both
have php || need+=(php8.2-cli)
[ -x /usr/sbin/php-fpm8.2 ] || need+=(php8.2-fpm)
[ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -x /usr/sbin/apache2 ] || need+=(apache2)
[ -e /usr/lib/apache2/modules/libphp8.2.so ] || need+=(libapache2-mod-php8.2)
have cgi-fcgi || need+=(libfcgi-bin)
[ -x /usr/sbin/haproxy ] || need+=(haproxy)   # the balancer tests run a real HAProxy 2.6
have socat || need+=(socat)    # the balancer tests read HAProxy's admin socket without cutover's code
have curl || need+=(curl)
have crontab || need+=(cron)   # doctor reads crontabs
have zsh || need+=(zsh)        # the completion tests run the zsh script in real zsh
have fish || need+=(fish)      # over SSH the login shell runs the interrupt's kill: the tests run it in fish too
have sqlite3 || need+=(sqlite3) # snapshots back up SQLite databases online (sqlite3 .backup)
php -m 2>/dev/null | grep -qx pdo_sqlite || need+=(php8.2-sqlite3)   # the snapshot tests' app writes SQLite

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${need[*]}; run this as root or install them" >&2
    exit 1
  fi
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian's packages start their daemons when they can; the tests start their own on free ports.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

if [ -L node_modules ]; then
  # A link to another checkout's node_modules: npm ci would empty that tree, under whoever uses it.
  echo "node_modules is a link to $(readlink node_modules): not reinstalling it (remove the link for a fresh npm ci)" >&2
elif [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
