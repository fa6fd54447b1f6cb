"""The retrieval index (models.ann) against exact inner-product scoring on a fixed catalogue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from models.ann import INDEX_FILE, IndexParams, build_item_index, load_item_index, write_item_index


def catalogue(n: int = 20_000, d: int = 16, seed: int = 0) -> np.ndarray:
    """A fixed clustered catalogue (100 items per cluster), the shape trained item embeddings have."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n // 100, d))
    items = centres[rng.integers(0, len(centres), n)] + 0.5 * rng.standard_normal((n, d))
    return (items * 0.02).astype(np.float32)


def recall_at_10(index_ids: np.ndarray, items: np.ndarray, queries: np.ndarray) -> float:
    hits = 0
    for cand, q in zip(index_ids, queries, strict=True):
        cand = cand[cand >= 0]
        ann_top = set(cand[np.argsort(-(items[cand] @ q))[:10]].tolist())  # candidates re-scored exactly
        exact_top = set(np.argsort(-(items @ q))[:10].tolist())
        hits += len(ann_top & exact_top)
    return hits / (10 * len(queries))


def test_ann_top10_agrees_with_exact_scoring() -> None:
    items = catalogue()
    queries = np.random.default_rng(1).standard_normal((200, items.shape[1])).astype(np.float32)
    index = build_item_index(items, IndexParams(nprobe=32, candidates=100))
    assert index.params.nlist == int(4 * np.sqrt(len(items)))
    assert recall_at_10(index.search(queries, 110), items, queries) >= 0.98
    # one cell of ~35 items: it must miss some
    few = build_item_index(items, IndexParams(nprobe=1, candidates=100))
    assert recall_at_10(few.search(queries, 110), items, queries) < 0.98


def test_query_scale_does_not_change_the_candidates() -> None:
    items = catalogue(5_000)
    index = build_item_index(items, IndexParams(nprobe=8))
    q = np.random.default_rng(2).standard_normal((5, items.shape[1])).astype(np.float32)
    assert (index.search(q, 50) == index.search(q * 37.0, 50)).all()


def test_written_with_the_model_and_loaded_back(tmp_path: Path) -> None:
    items = torch.from_numpy(catalogue(3_000))
    assert write_item_index(tmp_path, items) is None  # small catalogue: no index, exact scoring
    assert write_item_index(tmp_path, items, IndexParams(nprobe=4), min_items=1_000) == tmp_path / INDEX_FILE
    loaded = load_item_index(tmp_path, 3_000, 16)
    assert loaded is not None and loaded.params.nprobe == 4
    q = np.ones((1, 16), dtype=np.float32)
    assert (loaded.search(q, 20) == build_item_index(items.numpy(), loaded.params).search(q, 20)).all()
    with pytest.raises(ValueError, match="built for 3000 items"):
        load_item_index(tmp_path, 4_000, 16)
    assert load_item_index(tmp_path / "nothing", 3_000, 16) is None
