# One image for the whole stack: the Flink 2.2.1 runtime (jobmanager / taskmanager, Java 17) plus the omniseq
# project installed with uv from uv.lock. Flink's task managers run the pipeline's Python functions, so they need
# the same Python environment as the job submitter; the API, trainer and replay producer use it as well.
# The Kafka connector and Parquet jars are resolved at build time by the Maven projects in infra/maven
# (python -m omniseq.infra.jars) into /opt/omniseq/.cache/jars and shipped with each job (pipeline.jars).
#
#   docker compose build        (docker-compose.yml builds it as omniseq:latest)
ARG FLINK_IMAGE=flink:2.2.1-java17
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

FROM ${FLINK_IMAGE}
USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends maven ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=uv /uv /uvx /usr/local/bin/

ENV UV_PYTHON_INSTALL_DIR=/opt/python \
    UV_PROJECT_ENVIRONMENT=/opt/omniseq/.venv \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    MAVEN_OPTS="-Dmaven.repo.local=/opt/m2"
WORKDIR /opt/omniseq

# dependencies first (cached layer), then the project itself
COPY pyproject.toml uv.lock README.md ./
RUN uv python install 3.11 \
    && uv sync --frozen --no-dev --no-install-project --python 3.11
COPY . .
RUN uv sync --frozen --no-dev --python 3.11

ENV PATH=/opt/omniseq/.venv/bin:$PATH \
    OMNISEQ_CACHE_DIR=/opt/omniseq/.cache \
    OMNISEQ_RUN_DIR=/data/run
RUN python -m omniseq.infra.jars && rm -rf /opt/m2 \
    && mkdir -p /data/run /data/offline /data/models \
    && chown -R flink:flink /data /opt/omniseq/.cache

# the Flink entrypoint runs `jobmanager` / `taskmanager`; any other command (omniseq ..., uvicorn ...) is passed
# through unchanged (as the flink user)
EXPOSE 8000 8081
