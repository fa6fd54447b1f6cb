"""Flink table environments: configuration (unit) and the Parquet format through a SQL filesystem table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from omniseq.infra.flink import flink_config, parse_target
from omniseq.infra.jars import Jars
from omniseq.infra.process import InfraError
from omniseq.infra.stack import isolated_settings


def test_local_and_remote_targets(tmp_path: Path) -> None:
    jars = Jars(kafka_classpath=[], flink=[tmp_path / "a.jar", tmp_path / "b.jar"])
    local = flink_config(isolated_settings(tmp_path), jars, parallelism=3)
    assert local["pipeline.jars"] == f"{(tmp_path / 'a.jar').as_uri()};{(tmp_path / 'b.jar').as_uri()}"
    assert local["parallelism.default"] == "3"
    assert "execution.target" not in local
    remote = flink_config(
        isolated_settings(tmp_path, flink_target="flink-jobmanager:8081"), jars, streaming=False
    )
    assert remote["execution.target"] == "remote"
    assert (remote["rest.address"], remote["rest.port"]) == ("flink-jobmanager", "8081")
    assert remote["execution.runtime-mode"] == "batch"


@pytest.mark.parametrize("bad", ["", "jobmanager", "host:", ":8081", "host:port", "host:99999"])
def test_bad_target_is_named(bad: str) -> None:
    with pytest.raises(InfraError, match="flink_target must be 'local' or 'host:port'"):
        parse_target(bad)


@pytest.mark.integration
def test_parquet_round_trip_through_flink_sql(flink_env: Callable[..., Any], tmp_path: Path) -> None:
    """Proves the Parquet jar set (flink-parquet 2.2.0 + parquet-hadoop + minimal Hadoop) works on Flink 2.2.1."""
    t_env = flink_env(streaming=False, parallelism=1)
    out = tmp_path / "pq"
    t_env.execute_sql(
        f"""CREATE TABLE pq (user_id STRING, n BIGINT, items ARRAY<STRING>) WITH (
            'connector' = 'filesystem', 'path' = '{out.as_uri()}', 'format' = 'parquet')"""
    )
    t_env.execute_sql("INSERT INTO pq VALUES ('u1', 1, ARRAY['a', 'b']), ('u2', 2, ARRAY['c'])").wait()
    with t_env.execute_sql("SELECT user_id, n, items FROM pq").collect() as rows:
        got = sorted((r[0], r[1], list(r[2])) for r in rows)
    assert got == [("u1", 1, ["a", "b"]), ("u2", 2, ["c"])]
    files = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    table = pq.read_table(files[0]) if len(files) == 1 else pq.read_table(out)
    assert sorted(table.column("user_id").to_pylist()) == ["u1", "u2"]


@pytest.mark.integration
@pytest.mark.slow
def test_same_job_runs_on_a_session_cluster(tmp_path: Path) -> None:
    """flink_target='host:port' submits through REST to a JobManager + TaskManager (as in docker-compose)."""
    import json
    import urllib.request

    from omniseq.infra.flink import table_env
    from omniseq.infra.flink_cluster import FlinkSessionCluster
    from omniseq.infra.process import pid_alive

    settings = isolated_settings(tmp_path / "run")
    with FlinkSessionCluster(settings) as cluster:
        remote = isolated_settings(tmp_path / "run", flink_target=cluster.target)
        t_env = table_env(remote, streaming=False, parallelism=1)
        out = tmp_path / "pq"
        t_env.execute_sql(
            f"CREATE TABLE pq (user_id STRING, n BIGINT) WITH "
            f"('connector' = 'filesystem', 'path' = '{out.as_uri()}', 'format' = 'parquet')"
        )
        job = t_env.execute_sql("INSERT INTO pq VALUES ('u1', 1), ('u2', 2)")
        job_id = str(job.get_job_client().get_job_id())
        job.wait()
        with urllib.request.urlopen(f"http://{cluster.target}/jobs/overview", timeout=5) as resp:
            jobs = {j["jid"]: j["state"] for j in json.load(resp)["jobs"]}
        pids = cluster.pids()
    assert jobs[job_id] == "FINISHED"  # it ran on the session cluster, not in a local mini-cluster
    assert sorted(pq.read_table(out).column("user_id").to_pylist()) == ["u1", "u2"]
    assert len(pids) == 2 and not any(pid_alive(p) for p in pids)
