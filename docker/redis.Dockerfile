# Redis for the compose stack: Debian's redis-server, password required, append-only persistence.
#   docker compose build redis     (BASE_IMAGE: any Debian bookworm image; omniseq-base:bookworm offline)
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown redis:redis /data
COPY docker/redis-entrypoint.sh /usr/local/bin/redis-entrypoint.sh
USER redis
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/redis-entrypoint.sh"]
EXPOSE 6379
