#!/usr/bin/env bash
# Builds a local stand-in for the public `python:3.11-slim-bookworm` image when no image registry is reachable:
# Debian bookworm (debootstrap, minbase) with Debian's python3.11 and CA certificates, imported as
# ${OMNISEQ_BASE_IMAGE:-omniseq-base:bookworm}. Built once: an existing image of that name is reused.
# Needs root (debootstrap), a running Docker engine and Debian's mirror.
#   scripts/build-base-image.sh            # build if missing, print the image name
#   FORCE=1 scripts/build-base-image.sh    # rebuild
set -euo pipefail
IMAGE="${OMNISEQ_BASE_IMAGE:-omniseq-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKER="${DOCKER:-$( [ -x /usr/bin/docker ] && echo /usr/bin/docker || echo docker)}"
if [ -z "${FORCE:-}" ] && $DOCKER image inspect "$IMAGE" >/dev/null 2>&1; then echo "$IMAGE"; exit 0; fi
command -v debootstrap >/dev/null 2>&1 || {
  echo "installing debootstrap (Debian)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
ROOTFS="$(mktemp -d /var/tmp/omniseq-base.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
echo "debootstrap bookworm -> $ROOTFS (a few minutes)" >&2
debootstrap --variant=minbase --include=python3.11,ca-certificates bookworm "$ROOTFS" "$MIRROR" >&2
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/archives/*.deb
# python:3.11-slim puts `python`/`python3` on PATH; do the same so one Dockerfile serves both bases
ln -sf /usr/bin/python3.11 "$ROOTFS/usr/local/bin/python3"
ln -sf /usr/bin/python3.11 "$ROOTFS/usr/local/bin/python"
tar -C "$ROOTFS" -c . | $DOCKER import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$IMAGE" >&2
echo "$IMAGE"
