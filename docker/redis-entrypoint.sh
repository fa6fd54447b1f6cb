#!/bin/sh
# Writes the password (OMNISEQ_REDIS_PASSWORD, or the file named by OMNISEQ_REDIS_PASSWORD_FILE, e.g. a
# compose secret) into a private config file and starts redis-server with it: the password never appears on a
# command line (ps, docker inspect's Args). Refuses to start without one.
set -eu
if [ -n "${OMNISEQ_REDIS_PASSWORD_FILE:-}" ]; then OMNISEQ_REDIS_PASSWORD="$(cat "$OMNISEQ_REDIS_PASSWORD_FILE")"; fi
if [ -z "${OMNISEQ_REDIS_PASSWORD:-}" ]; then
  echo "error: OMNISEQ_REDIS_PASSWORD is empty; set it in .env (see docs/SECURITY.md)" >&2; exit 2
fi
umask 077
conf=/tmp/redis.conf
cat > "$conf" <<CONF
bind 0.0.0.0
protected-mode yes
port 6379
dir /data
appendonly yes
appendfsync everysec
save 300 1
CONF
printf 'requirepass "%s"\n' "$(printf '%s' "$OMNISEQ_REDIS_PASSWORD" | sed 's/["\\]/\\&/g')" >> "$conf"
exec redis-server "$conf"
