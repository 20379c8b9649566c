#!/usr/bin/env bash
# Debian packages medipersona needs. Installs only what is missing; needs root (or sudo).
#   (no argument)  everything the test suite needs: the runtime font below, chromium (browser tests), poppler-utils
#                  (pdftoppm/pdftotext/pdffonts), postgresql-client (psql, used by the test fixtures).
#   --runtime      only what the app itself needs (`make run`, `make dev`): fonts-ipaexfont-gothic, the Japanese
#                  font (IPAexGothic) of the PDF/PPTX exports and chart images. Where it cannot be installed, this
#                  warns and exits 0: the app starts, and exports fail with an error naming the package.
set -euo pipefail

runtime_only=0
[ "${1:-}" = "--runtime" ] && runtime_only=1

need=()
# The exports' font (the app finds it at this path, or through fontconfig).
[ -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] || need+=(fonts-ipaexfont-gothic)
if [ "$runtime_only" -eq 0 ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
  command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
fi
[ ${#need[@]} -eq 0 ] && exit 0

missing() {
  echo "missing Debian packages: ${need[*]} ($1: apt-get install ${need[*]})" >&2
  if [ "$runtime_only" -eq 1 ]; then
    echo "PDF/PPTX exports need the Japanese font IPAexGothic: without the package, install the font extra" \
         "(.venv/bin/pip install -e '.[font]')" >&2
    exit 0
  fi
  exit 1
}

command -v apt-get >/dev/null 2>&1 || missing "not a Debian/Ubuntu system, install the equivalent of"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else missing "run as root"; fi
fi
echo "installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
