#!/usr/bin/env bash
# Debian packages the test suite needs: chromium (browser tests), poppler-utils (pdftoppm/pdftotext/pdffonts),
# postgresql-client (psql, used by the test fixtures). Installs only what is missing; needs root (or sudo).
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
[ ${#need[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "missing Debian packages: ${need[*]} (run as root: apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
echo "installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
