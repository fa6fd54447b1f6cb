#!/usr/bin/env bash
# Installs the system packages the stack needs and that PyPI/Maven cannot provide:
#   redis-server (Debian), docker-compose (Debian, only to validate docker-compose.yml without an engine),
#   chromium (Debian; the storefront page's browser test drives it with Playwright, whose own downloads are unreachable).
# Java 17 and Maven are expected on the machine; we check and say so clearly.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ! command -v java >/dev/null 2>&1; then echo "error: java (17+) is required but not on PATH" >&2; exit 1; fi
if ! command -v mvn >/dev/null 2>&1; then echo "error: maven (mvn) is required but not on PATH" >&2; exit 1; fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "error: need root (or sudo) to apt-get install: ${missing[*]}" >&2; exit 1; fi
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's redis-server package may start a system instance; the stack starts its own on its own port.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
