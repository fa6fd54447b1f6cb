"""PyFlink table environments with the stack's jars: a local mini-cluster, or a Flink session cluster.

``settings.flink_target == "local"`` runs jobs in an embedded mini-cluster inside the PyFlink gateway JVM.
``"host:port"`` (a session cluster's REST endpoint, e.g. ``flink-jobmanager:8081`` in docker-compose) submits the
same job there: ``execution.target=remote``, ``rest.address``, ``rest.port``; ``pipeline.jars`` (the Kafka connector
and Parquet jars as ``file://`` URLs) are shipped with the job either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    settings: StackSettings, jars: Jars, parallelism: int | None = None, streaming: bool = True
) -> dict[str, str]:
    """The Flink configuration keys the stack sets (also usable with ``flink run -D``)."""
    tmp = Path(settings.run_dir).resolve() / "flink" / "tmp"
    conf = {
        "pipeline.jars": ";".join(jars.flink_urls),
        "parallelism.default": str(parallelism or settings.flink_parallelism),
        "execution.runtime-mode": "streaming" if streaming else "batch",
        "io.tmp.dirs": str(tmp),
        "pipeline.name": "omniseq",
    }
    remote = parse_target(settings.flink_target)
    if remote is not None:
        conf.update({"execution.target": "remote", "rest.address": remote[0], "rest.port": str(remote[1])})
    return conf


def table_env(
    settings: StackSettings | None = None,
    streaming: bool = True,
    parallelism: int | None = None,
    jars: Jars | None = None,
    extra_config: dict[str, str] | None = None,
) -> Any:
    """A fresh table environment with the jars on ``pipeline.jars``.

    Streaming gives a ``StreamTableEnvironment`` (its ``StreamExecutionEnvironment`` is created with the same
    configuration, so DataStream and Table API share it); batch gives a plain ``TableEnvironment``.
    """
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import EnvironmentSettings, StreamTableEnvironment, TableEnvironment

    settings = settings or StackSettings()
    jars = jars or ensure_jars(settings)
    jars.check()
    conf_map = flink_config(settings, jars, parallelism, streaming)
    conf_map.update(extra_config or {})
    Path(conf_map["io.tmp.dirs"]).mkdir(parents=True, exist_ok=True)
    config = Configuration()
    for key, value in conf_map.items():
        config.set_string(key, value)
    if not streaming:
        env_settings = EnvironmentSettings.new_instance().in_batch_mode().with_configuration(config).build()
        return TableEnvironment.create(env_settings)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env_settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(config).build()
    return StreamTableEnvironment.create(env, environment_settings=env_settings)
