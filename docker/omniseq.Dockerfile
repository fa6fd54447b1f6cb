# One image for the whole stack: Python 3.11 + the project's locked environment (uv.lock) + Java 17, running the
# Kafka broker (Maven jars), the Flink JobManager / TaskManager (the apache-flink wheel's bin/ and lib/), the
# pipeline submitter, the API, the trainer and the replay producer (docker/entrypoint.sh picks the role).
#
#   docker compose build                                  # public base image (python:3.11-slim-bookworm)
#   DOCKER_BUILDKIT=1 docker build -f docker/omniseq.Dockerfile \
#       --build-arg BASE_IMAGE=omniseq-base:bookworm \    # scripts/build-base-image.sh, when no registry is reachable
#       --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt .   # optional extra CA bundle (TLS-inspecting proxy)
#
# Stages: `build` has Maven, the JDK and uv and makes the locked venv; `jars` resolves the Kafka / Flink jars; the
# runtime stage has only the JRE, the venv, the jars and the source (no compilers, Maven or uv). Package caches are
# BuildKit cache mounts, never image layers; a source change rebuilds only the last, small layers.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ARG UV_VERSION=0.13.9
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    rm -f /etc/apt/apt.conf.d/docker-clean \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends maven openjdk-17-jdk-headless ca-certificates ca-certificates-java \
    && { python3 -m pip --version >/dev/null 2>&1 || apt-get install -y -qq --no-install-recommends python3-pip; } \
    && rm -rf /var/lib/apt/lists/*
# optional CA bundle: split into single certificates so both OpenSSL and Java's trust store (cacerts) take them
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then \
      awk 'BEGIN{n=0} /BEGIN CERTIFICATE/{n++; f=sprintf("/usr/local/share/ca-certificates/extra-%04d.crt", n)} f{print > f} /END CERTIFICATE/{f=""}' /run/secrets/ca \
      && update-ca-certificates >/dev/null; \
    fi
RUN --mount=type=cache,target=/root/.cache/pip \
    python3 -m pip install -q --target /opt/uv "uv==${UV_VERSION}"
ENV PATH=/opt/uv/bin:$PATH \
    PYTHONPATH=/opt/uv \
    UV_PROJECT_ENVIRONMENT=/opt/omniseq/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_HTTP_TIMEOUT=300
WORKDIR /opt/omniseq
# the locked dependencies only: this stage (and the runtime layer copied from it) changes only with uv.lock
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    touch README.md && uv sync --frozen --no-dev --no-install-project --python python3.11

# the Kafka / Flink jars (Maven) and the jvm/ module (the Flink operators); changes only with the poms and jvm/
FROM build AS jars
COPY infra/maven infra/maven
COPY jvm/pom.xml jvm/pom.xml
COPY jvm/src jvm/src
COPY omniseq/__init__.py omniseq/settings.py omniseq/
COPY omniseq/infra/__init__.py omniseq/infra/process.py omniseq/infra/jars.py omniseq/infra/
RUN --mount=type=cache,target=/root/.m2 \
    OMNISEQ_CACHE_DIR=/opt/omniseq/.cache .venv/bin/python -m omniseq.infra.jars

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    rm -f /etc/apt/apt.conf.d/docker-clean \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless procps \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /home/omniseq --uid 10001 omniseq \
    && mkdir -p /data/run /data/offline /data/models /data/kafka \
    && chown -R omniseq:omniseq /data
# root-owned and read-only for the service user: dependencies, jars, then the source (the small, changing layer)
COPY --from=build /opt/omniseq/.venv /opt/omniseq/.venv
COPY --from=jars /opt/omniseq/.cache /opt/omniseq/.cache
COPY . /opt/omniseq
# the project itself, installed in place (editable): a .pth entry and the `omniseq` console script
RUN echo /opt/omniseq > /opt/omniseq/.venv/lib/python3.11/site-packages/_omniseq.pth \
    && printf '#!/opt/omniseq/.venv/bin/python\nimport sys\nfrom cli.main import main\nsys.exit(main())\n' \
       > /opt/omniseq/.venv/bin/omniseq \
    && chmod 755 /opt/omniseq/.venv/bin/omniseq /opt/omniseq/docker/*.sh \
    && /opt/omniseq/.venv/bin/python -c "import cli.main, serving.app, pipeline.job"
ENV PATH=/opt/omniseq/.venv/bin:$PATH \
    JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    OMNISEQ_CACHE_DIR=/opt/omniseq/.cache \
    OMNISEQ_RUN_DIR=/data/run \
    FLINK_LOG_DIR=/tmp/flink-log \
    PYTHONUNBUFFERED=1
WORKDIR /opt/omniseq
USER omniseq
ENTRYPOINT ["/opt/omniseq/docker/entrypoint.sh"]
EXPOSE 8000
