#!/usr/bin/env bash
# Makes a Docker engine available: installs Debian's docker.io (and docker-compose) when missing and starts dockerd
# (as root) when no daemon answers. Prints the docker CLI to use. Logs of a dockerd started here: run/dockerd.log.
set -euo pipefail
SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
# Debian's CLI matches Debian's daemon (API 1.41); another docker CLI earlier on PATH may speak a newer API only
DOCKER="${DOCKER:-$( [ -x /usr/bin/docker ] && echo /usr/bin/docker || command -v docker || true)}"
if [ -z "$DOCKER" ] || ! command -v dockerd >/dev/null 2>&1 || ! command -v docker-compose >/dev/null 2>&1; then
  echo "installing docker.io and docker-compose (Debian)" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker.io docker-compose >/dev/null
  DOCKER=/usr/bin/docker
fi
if ! $DOCKER info >/dev/null 2>&1; then
  echo "starting dockerd (log: run/dockerd.log)" >&2
  mkdir -p run
  $SUDO nohup dockerd > run/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do $DOCKER info >/dev/null 2>&1 && break; sleep 1; done
  $DOCKER info >/dev/null 2>&1 || { echo "error: dockerd did not start; see run/dockerd.log" >&2; exit 1; }
fi
echo "$DOCKER"
