"""Point-in-time sequences from the behaviour log equal ``HybridSequence`` (the reference) for random histories
with late baskets, equal timestamps and labels before, between and after a user's behaviours."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from omniseq.features.behaviour_log import LOG_NAME, newest_ts, read_log, sequences_as_of, view_as_of
from omniseq.features.sequence import HybridSequence
from omniseq.schema import EVENT_TYPES, Behaviour, OnlineEvent, StoreTransaction
from tests.pipeline.reference import instore_aggregates, log_table

T0 = 1_700_000_000_000
ETYPES: list[Any] = list(EVENT_TYPES)


def _history(seed: int, n: int = 600) -> list[Behaviour]:
    rng = random.Random(seed)
    out: list[Behaviour] = []
    for i in range(n):
        u, ts = f"u{rng.randrange(12)}", T0 + rng.randrange(0, 200) * 1000  # many equal timestamps
        if rng.random() < 0.2:
            items = tuple(f"p{j}" for j in rng.sample(range(50), rng.randint(1, 5)))
            out.append(StoreTransaction(f"t{i}", u, items, ts, f"s{rng.randrange(4)}"))
        else:
            out.append(OnlineEvent(f"e{i}", u, f"i{rng.randrange(30)}", rng.choice(ETYPES), ts, "s"))
    return out  # arrival order is random: late baskets and events alike


def _log(history: list[Behaviour]) -> pa.Table:
    return log_table(history, T0)


@pytest.mark.parametrize("seed,max_len", [(1, 5), (2, 20), (3, 1000)])
def test_sequences_as_of_equal_the_reference(seed: int, max_len: int) -> None:
    history = _history(seed)
    rng = random.Random(seed)
    users = [f"u{i}" for i in range(13)]  # u12 never appears
    labels = [
        (u, T0 + rng.randrange(-5, 210) * 1000 + rng.choice([0, 1, 999])) for u in users for _ in range(8)
    ]
    got = sequences_as_of(_log(history), [u for u, _ in labels], [t for _, t in labels], max_len).to_pylist()
    for (user, t), row in zip(labels, got, strict=True):
        mine = [b for b in history if b.user_id == user and b.ts_ms <= t]
        want = HybridSequence.from_behaviours(user, mine, max_len).to_features()
        assert {k: row[k] for k in want} == want, (user, t)
        assert row["user_id"] == user and row["as_of_ms"] == t


def test_read_log_reads_parquet_partitions_and_drops_repeats(tmp_path: Path) -> None:
    history = _history(4, 50)
    table = _log(history)
    part = tmp_path / LOG_NAME / "date=2023-11-14"
    part.mkdir(parents=True)
    pq.write_table(table, part / "part-0.parquet")
    pq.write_table(table.slice(0, 10), part / "part-1.parquet")  # the same keys again
    log = read_log(tmp_path)
    assert log.num_rows == len(history)
    assert read_log(tmp_path, max_arrival_ms=T0 + 9).num_rows == 10
    assert read_log(tmp_path / "none").num_rows == 0


def test_only_committed_log_files_are_read(tmp_path: Path) -> None:
    """A ``part-*`` file without the ``.parquet`` name is one the job is renaming right now (or an in-progress
    one): reading it races the rename, so readers see only committed ``*.parquet`` files."""
    history = _history(4, 50)
    part = tmp_path / LOG_NAME / "date=2023-11-14"
    part.mkdir(parents=True)
    committed, renaming = _log(history).slice(0, 20), _log(history).slice(20)
    pq.write_table(committed, part / "part-0.parquet")
    pq.write_table(renaming, part / "part-1-0")  # not yet renamed by the commit policy
    assert read_log(tmp_path).num_rows == 20
    assert set(newest_ts(tmp_path)) == set(committed["user_id"].to_pylist())


@pytest.mark.parametrize("seed", [5, 6])
def test_instore_as_of_equals_the_reference(seed: int) -> None:
    history = _history(seed)
    rng = random.Random(seed)
    labels = [
        (f"u{i}", T0 + rng.randrange(-5, 210) * 1000 + rng.choice([0, 1]))
        for i in range(13)
        for _ in range(8)
    ]
    got = view_as_of(_log(history), "user_instore_agg_v1", [u for u, _ in labels], [t for _, t in labels])
    for (user, t), row in zip(labels, got.to_pylist(), strict=True):
        txns = [b for b in history if isinstance(b, StoreTransaction) and b.user_id == user and b.ts_ms <= t]
        want = instore_aggregates(txns).get(user)
        feats = {k: v for k, v in row.items() if k not in ("user_id", "as_of_ms")}
        assert (None if all(v is None for v in feats.values()) else feats) == want, (user, t)


def test_view_as_of_has_no_row_before_the_first_behaviour_and_rejects_window_views() -> None:
    history = _history(7, 100)
    first = min(b.ts_ms for b in history if b.user_id == "u0")
    rows = view_as_of(_log(history), "user_hybrid_seq_v1", ["u0", "u0", "nobody"], [first - 1, first, 2**62])
    seq_lens = rows.column("seq_len").to_pylist()
    assert seq_lens[0] is None and seq_lens[1] >= 1 and seq_lens[2] is None
    with pytest.raises(ValueError, match="not built from the behaviour log"):
        view_as_of(_log(history), "user_online_agg_10m_v1", ["u0"], [first])
