#!/usr/bin/env bash
# Installs the Debian packages quipu needs when they are missing, so that
# `make demo` and `make test` work on a bare Debian machine.  Quiet when
# everything is already there.
set -euo pipefail

PKGS=(
  build-essential pkg-config clang clang-format
  liblmdb-dev libsodium-dev libssl-dev libuv1-dev libmicrohttpd-dev libgnutls28-dev libjansson-dev
  libcbor-dev libraft-dev liblua5.4-dev libqrencode-dev zlib1g-dev libcmocka-dev
  python3 python3-pytest python3-requests python3-cryptography curl libcurl4-openssl-dev openssl openssl
)
# QUIPU_BROWSER=1 (`make test-browser`, part of `make test`): the browser tests
# (tests/browser) need Chromium, and Node.js with npm: Debian's unless the
# machine has them already (a nodejs package from elsewhere brings npm).
if [ -n "${QUIPU_BROWSER:-}" ]; then
  PKGS+=(chromium)
  command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
  command -v npm >/dev/null 2>&1 || PKGS+=(npm)
fi
[ -n "${QUIPU_EXTRA_PKGS:-}" ] && read -r -a extra <<<"$QUIPU_EXTRA_PKGS" && PKGS+=("${extra[@]}")

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
