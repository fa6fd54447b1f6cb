"""The one builder of PyFlink environments with the stack's jars: a local mini-cluster, or a Flink session cluster.

The feature job (``pipeline.runner``), its tests and the benchmark build their environment here, from one
configuration map (:func:`flink_config`): the stack's keys, then the caller's (the job adds checkpointing and
its REST settings), then the target. ``settings.flink_target == "local"`` runs jobs in an embedded mini-cluster
inside the PyFlink gateway JVM; ``"host:port"`` (a session cluster's REST endpoint, e.g. ``flink-jobmanager:8081``
in docker-compose) submits the same job there: ``execution.target=remote``, ``rest.address``, ``rest.port``.
``pipeline.jars`` (the Kafka connector, Parquet and omniseq jars as ``file://`` URLs) is shipped either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pyflink.common import Configuration
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import EnvironmentSettings, StreamTableEnvironment, TableEnvironment

from omniseq.infra.jars import Jars, ensure_jars
from omniseq.infra.process import InfraError
from omniseq.settings import StackSettings


def parse_target(target: str) -> tuple[str, int] | None:
    """None for ``"local"``, else ``(host, port)`` of a session cluster's REST endpoint."""
    if target == "local":
        return None
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InfraError(
            f"flink_target must be 'local' or 'host:port' of a Flink REST endpoint, got {target!r}"
        )
    return host, int(port)


def flink_config(
    settings: StackSettings,
    jars: Jars | Sequence[str],
    parallelism: int | None = None,
    streaming: bool = True,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The Flink configuration (also usable with ``flink run -D``): the stack's keys, ``extra`` over them, and a
    remote ``flink_target`` last. ``jars`` is the resolved :class:`Jars` or a list of ``file://`` URLs."""
    urls = jars.flink_urls if isinstance(jars, Jars) else list(jars)
    conf = {
        "pipeline.jars": ";".join(urls),
        "parallelism.default": str(parallelism or settings.flink_parallelism),
        "execution.runtime-mode": "streaming" if streaming else "batch",
        "io.tmp.dirs": str(Path(settings.run_dir).resolve() / "flink" / "tmp"),
        "pipeline.name": "omniseq",
        **(extra or {}),
    }
    remote = parse_target(settings.flink_target)
    if remote is not None:
        conf.update({"execution.target": "remote", "rest.address": remote[0], "rest.port": str(remote[1])})
    return conf


def _configuration(conf: Mapping[str, str]) -> Configuration:
    Path(conf["io.tmp.dirs"]).mkdir(parents=True, exist_ok=True)
    config = Configuration()
    for key, value in conf.items():
        config.set_string(key, value)
    return config


def stream_env(conf: Mapping[str, str]) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """A fresh streaming environment of :func:`flink_config`'s map: the ``StreamExecutionEnvironment`` and the
    ``StreamTableEnvironment`` on it (DataStream and Table API share the configuration)."""
    config = _configuration(conf)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env_settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(config).build()
    return env, StreamTableEnvironment.create(env, environment_settings=env_settings)


def table_env(
    settings: StackSettings | None = None,
    streaming: bool = True,
    parallelism: int | None = None,
    jars: Jars | None = None,
    extra_config: dict[str, str] | None = None,
) -> StreamTableEnvironment | TableEnvironment:
    """A fresh table environment with the stack's jars: a ``StreamTableEnvironment`` (see :func:`stream_env`),
    or a plain batch ``TableEnvironment``."""
    settings = settings or StackSettings()
    jars = jars or ensure_jars(settings)
    jars.check()
    conf = flink_config(settings, jars, parallelism, streaming, extra_config)
    if streaming:
        return stream_env(conf)[1]
    env_settings = (
        EnvironmentSettings.new_instance().in_batch_mode().with_configuration(_configuration(conf)).build()
    )
    return TableEnvironment.create(env_settings)
