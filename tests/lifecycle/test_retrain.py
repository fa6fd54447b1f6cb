"""Retraining on a real (file) offline store written by the offline writer, with real training and export."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lifecycle.retrain import RetrainConfig, held_out, load_sequences, retrain_once
from models.registry import ModelRegistry
from omniseq.data.sim.config import SimulatorConfig
from omniseq.data.sim.simulator import Simulator
from omniseq.features.behaviour_log import LOG_NAME
from omniseq.features.offline import OfflineWriter
from omniseq.features.sequence import HybridSequence
from omniseq.schema import sort_key
from omniseq.settings import StackSettings
from tests.pipeline.reference import log_table

VIEW = "user_hybrid_seq_v1"


@pytest.fixture(scope="module")
def offline_settings(tmp_path_factory: pytest.TempPathFactory) -> tuple[StackSettings, int]:
    run_dir = tmp_path_factory.mktemp("run")
    settings = StackSettings(run_dir=run_dir)
    writer = OfflineWriter(settings.dir("offline"))
    rows, end = [], 0
    for user in Simulator(SimulatorConfig(seed=3)).users(0, 120):
        seq = HybridSequence(user.user_id, 50)
        for b in sorted(user.behaviours, key=sort_key):
            seq.add(b)
            rows.append((user.user_id, seq.to_features(), seq.last_ts))
            end = max(end, seq.last_ts)
    writer.write(VIEW, rows)
    return settings, end


def test_offline_sequences_are_point_in_time(offline_settings: tuple[StackSettings, int]) -> None:
    settings, end = offline_settings
    seqs = load_sequences(settings, VIEW, 0, end)
    assert seqs and all(s.last_ts <= end for s in seqs)
    cut = end - 86_400_000 * 30
    earlier = load_sequences(settings, VIEW, 0, cut)
    assert all(t.ts_ms <= cut for s in earlier for t in s.tokens)
    data = held_out(seqs)
    assert len(data.users) == len(data.targets) > 0
    by_user = {s.user_id: s for s in seqs}
    for user, ctx, target in zip(data.users, data.contexts, data.targets, strict=True):
        full = by_user[user]
        last_online = [t for t in full.tokens if not t.is_basket][-1]
        assert target == last_online.item_id
        assert ctx.tokens == full.tokens[: full.tokens.index(last_online)]


@pytest.mark.slow
def test_retrain_promotes_then_requires_margin(offline_settings: tuple[StackSettings, int]) -> None:
    settings, end = offline_settings
    cfg = RetrainConfig(model="sasrec_attne", feature_view=VIEW, end_ms=end, epochs=2, hidden=16, max_len=50,
                        batch_size=64, min_users=10, progress=False, margin=0.0)  # fmt: skip
    first = retrain_once(cfg, settings)
    registry = ModelRegistry(settings.dir("registry"))
    assert first.promote and registry.champion() is not None
    assert registry.champion().version == first.challenger  # type: ignore[union-attr]
    # the same data and seed give the same model: not better, so the champion stays
    second = retrain_once(cfg.model_copy(update={"margin": 0.5}), settings)
    assert not second.promote
    assert registry.champion().version == first.challenger  # type: ignore[union-attr]
    decisions = registry.decisions()
    assert [d["promote"] for d in decisions] == [True, False]
    assert decisions[1]["champion_value"] == pytest.approx(decisions[0]["challenger_value"])


def test_failed_run_leaves_champion_untouched(tmp_path: Path) -> None:
    settings = StackSettings(run_dir=tmp_path)
    with pytest.raises(RuntimeError, match="nothing to train on"):
        retrain_once(RetrainConfig(feature_view=VIEW, progress=False), settings)
    assert ModelRegistry(settings.dir("registry")).champion() is None


def test_sequences_from_the_behaviour_log_equal_those_from_view_rows(
    offline_settings: tuple[StackSettings, int], tmp_path: Path
) -> None:
    """The job's default offline output is the behaviour log only: retraining's sequences rebuilt from it equal
    the ones read from per-behaviour view rows of the same histories (in- and out-of-window cuts)."""
    settings, end = offline_settings
    history = [b for u in Simulator(SimulatorConfig(seed=3)).users(0, 120) for b in u.behaviours]
    folder = tmp_path / "offline" / LOG_NAME / "date=2023-11-14"
    folder.mkdir(parents=True)
    pq.write_table(log_table(history, 0), folder / "part-0.parquet")
    from_log = StackSettings(run_dir=tmp_path)
    for start, stop in ((0, end), (end - 86_400_000 * 60, end - 86_400_000 * 30)):
        want = {s.user_id: s.tokens for s in load_sequences(settings, VIEW, start, stop)}
        got = {s.user_id: s.tokens for s in load_sequences(from_log, VIEW, start, stop)}
        assert got == want and got
