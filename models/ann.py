"""The retrieval stage for large catalogues: an approximate nearest-neighbour index over a model's item embeddings.

Scoring is a maximum inner product search (score = user representation · item embedding). HNSW (Malkov & Yashunin,
"Efficient and robust approximate nearest neighbor search using Hierarchical Navigable Small World graphs",
TPAMI 2018; the faiss implementation) searches by L2 distance, so the items are first made a Euclidean problem
with the standard MIPS-to-NN reduction (Bachrach et al., RecSys 2014): item ``x`` becomes ``[x, sqrt(R² - |x|²)]``
with ``R`` the largest item norm, a query ``q`` becomes ``[q, 0]``, and ``|q' - x'|² = |q|² + R² - 2 q·x`` orders
items exactly as ``-q·x`` does.

The index is built from the exported module's ``item_embeddings()`` when the model's artifacts are written
(:func:`write_item_index`, next to ``model.pt``), so the registry versions it with the model; serving loads it with
:func:`load_item_index` and re-scores the candidates exactly. Catalogues under ``min_items`` get no index: the
full product is cheaper there.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

INDEX_FILE = "item_index.faiss"
META_FILE = "item_index.json"
MIN_ITEMS = 200_000


@dataclass(frozen=True)
class IndexParams:
    """HNSW graph degree ``m``, build beam ``ef_construction``, search beam ``ef_search``, and how many
    candidates serving re-scores exactly (at least ``k`` plus excluded items)."""

    m: int = 32
    ef_construction: int = 64
    ef_search: int = 128
    candidates: int = 100

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> IndexParams:
        unknown = set(raw) - set(asdict(cls()))
        if unknown:
            raise ValueError(f"IndexParams: unknown keys {sorted(unknown)}")
        return cls(**raw)


def _augment_items(items: np.ndarray) -> np.ndarray:
    norms = np.einsum("ij,ij->i", items, items)
    extra = np.sqrt(np.maximum(norms.max() - norms, 0.0))
    return np.ascontiguousarray(np.hstack([items, extra[:, None]]), dtype=np.float32)


@dataclass
class ItemIndex:
    """A loaded HNSW index; ids are rows of the item embedding matrix (vocabulary indices)."""

    index: Any  # faiss.IndexHNSWFlat
    params: IndexParams
    n_items: int

    def search(self, queries: np.ndarray, n: int) -> np.ndarray:
        """``queries [B, d]`` -> ``[B, n]`` candidate rows by approximate inner product (-1 where none)."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        q = np.hstack([q, np.zeros((q.shape[0], 1), dtype=np.float32)])
        _, ids = self.index.search(q, min(n, self.n_items))
        return ids  # type: ignore[no-any-return]


def build_item_index(items: np.ndarray, params: IndexParams | None = None) -> ItemIndex:
    """An HNSW index over every row of ``items [V, d]`` (specials included; callers drop them)."""
    import faiss

    params = params or IndexParams()
    items = np.asarray(items, dtype=np.float32)
    index = faiss.IndexHNSWFlat(items.shape[1] + 1, params.m)
    index.hnsw.efConstruction = params.ef_construction
    index.add(_augment_items(items))
    index.hnsw.efSearch = params.ef_search
    return ItemIndex(index, params, items.shape[0])


def write_item_index(
    folder: Path, items: Any, params: IndexParams | None = None, min_items: int = MIN_ITEMS
) -> Path | None:
    """Build and save the index of ``items [V, d]`` (a tensor or array) into ``folder`` when ``V >= min_items``;
    returns the index path, or None for a small catalogue."""
    import faiss

    array = items.detach().cpu().float().numpy() if hasattr(items, "detach") else np.asarray(items)
    if array.shape[0] < min_items:
        return None
    built = build_item_index(array, params)
    path = Path(folder) / INDEX_FILE
    faiss.write_index(built.index, str(path))
    meta = {"kind": "hnsw-mips", "n_items": built.n_items, "dim": int(array.shape[1]), **asdict(built.params)}
    (Path(folder) / META_FILE).write_text(json.dumps(meta, indent=2))
    return path


def load_item_index(folder: Path, n_items: int, dim: int) -> ItemIndex | None:
    """The index saved in ``folder`` (None when there is none); raises ValueError when it does not fit the model."""
    import faiss

    path, meta_path = Path(folder) / INDEX_FILE, Path(folder) / META_FILE
    if not path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("n_items") != n_items or meta.get("dim") != dim:
        raise ValueError(
            f"{path}: built for {meta.get('n_items')} items of dim {meta.get('dim')}, the model has {n_items} x {dim}"
        )
    params = IndexParams.from_dict({k: meta[k] for k in asdict(IndexParams())})
    index: Any = faiss.read_index(str(path))
    index.hnsw.efSearch = params.ef_search
    return ItemIndex(index, params, n_items)
