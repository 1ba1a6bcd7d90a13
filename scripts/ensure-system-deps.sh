#!/usr/bin/env bash
# Installs the Debian packages the test suites use (PostgreSQL, Redis, nginx, Chromium, and the
# Python peers for interop tests) when any is missing. Needs root (or sudo) and apt-get.
set -euo pipefail
packages=(postgresql redis-server nginx chromium python3-fastapi python3-uvicorn python3-jwt python3-cryptography python3-passlib python3-bcrypt python3-httpx wrk)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "need root to install: ${missing[*]} (apt-get install them, then run the tests again)" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packaged services are not needed: tests start their own throwaway servers on 127.0.0.1.
for svc in postgresql redis-server nginx; do
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
