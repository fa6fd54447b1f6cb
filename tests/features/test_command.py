"""The ``omniseq features`` command: list, apply, materialize."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from bench.feature_rows import sample_row
from cli.commands import features as cmd
from omniseq.features.offline import OfflineWriter
from omniseq.features.online import RedisOnlineStore
from omniseq.settings import StackSettings

VIEW = "user_hybrid_seq_v2"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cmd.add_arguments(parser)
    return parser.parse_args(argv)


def test_features_list(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    assert cmd.run(_parse(["list"])) == 0
    out = capsys.readouterr().out
    for name in ("user_hybrid_seq_v1", "user_hybrid_seq_v2", "user_online_agg_10m_v1", "user_instore_agg_v1"):
        assert name in out
    assert "last 90 tokens" in out and "Array(Int64)" in out


@pytest.mark.integration
def test_features_apply_and_list_registered(
    feature_settings: StackSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("OMNISEQ_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("OMNISEQ_REDIS_PORT", str(feature_settings.redis_port))
    monkeypatch.setenv("COLUMNS", "250")
    repo = str(feature_settings.feature_repo)
    assert cmd.run(_parse(["apply", "--feature-repo", repo])) == 0
    assert (tmp_path / "feast" / "registry.db").is_file()
    assert cmd.run(_parse(["list", "--registered", "--feature-repo", repo])) == 0
    out = capsys.readouterr().out
    assert "applied 5 feature views" in out
    assert "Feast registry of project omniseq" in out and "user_online_agg_1h_v1" in out
    assert (tmp_path / "offline" / "user_online_agg_1h_v1").is_dir()  # sources live under the run folder


@pytest.mark.integration
def test_features_materialize_restores_redis(
    feature_settings: StackSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_client: Any
) -> None:

    monkeypatch.setenv("OMNISEQ_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("OMNISEQ_REDIS_PORT", str(feature_settings.redis_port))
    rows = [sample_row(VIEW, f"mat_u{i % 3}", i, 10 + i) for i in range(9)]
    writer = OfflineWriter(tmp_path / "offline")
    writer.write(VIEW, rows[:5])
    writer.write(VIEW, rows[5:])
    repo = ["--feature-repo", str(feature_settings.feature_repo)]
    assert cmd.run(_parse(["apply", *repo])) == 0
    assert cmd.run(_parse(["materialize", "--views", VIEW, *repo])) == 0
    newest = {u: f for u, f, _ in rows}  # rows are in time order per user
    users = sorted(newest)
    assert RedisOnlineStore(redis_client).read(VIEW, users) == [newest[u] for u in users]
    with pytest.raises(KeyError, match="unknown feature view"):
        cmd.run(_parse(["materialize", "--views", "nope_v1", *repo]))
