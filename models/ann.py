"""The retrieval stage for large catalogues: an approximate nearest-neighbour index over a model's item embeddings.

Scoring is a maximum inner product search (score = user representation · item embedding). The index is faiss's
inverted file (IVF-Flat: k-means cells, a query scans the ``nprobe`` nearest cells; Jégou et al., TPAMI 2011 /
Johnson et al., "Billion-scale similarity search with GPUs", 2017), which searches by L2 distance, so the items are
first made a Euclidean problem with the standard MIPS-to-NN reduction (Bachrach et al., RecSys 2014): item ``x``
becomes ``[x, sqrt(R² - |x|²)]`` with ``R`` the largest item norm, a query ``q`` becomes ``[q·R/|q|, 0]``, and
``|q' - x'|² = R² + R² - 2 (R/|q|) q·x`` orders items exactly as ``-q·x`` does.

Alternatives measured on a million clustered items, one thread (``omniseq bench serve`` sweeps the served index's
``nprobe``; the others were a one-off comparison noted in docs/SERVING.md): faiss HNSW over the same reduction, and
HNSW with the inner-product metric, stayed far below recall@10 0.98 even at large ``efSearch`` (the reduced queries
lie off the items' sphere, where the greedy walk gets lost) and took far longer to build; IVF with 8-bit scalar
quantisation was slower per query than IVF-Flat at equal recall. With ``4·sqrt(V)`` cells IVF-Flat scans fewer
items than with ``2·sqrt(V)`` at equal recall. faiss searches with OpenMP threads: serving uses one per process
(:func:`set_search_threads`); on a busy 2-core machine spinning OpenMP threads multiply the search's time.

The index is built from the exported module's ``item_embeddings()`` when the model's artifacts are written
(:func:`write_item_index`, next to ``model.pt``), so the registry versions it with the model; serving loads it with
:func:`load_item_index` and re-scores the candidates exactly. Catalogues under ``min_items`` get no index: the
full product is cheaper there.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

INDEX_FILE = "item_index.faiss"
META_FILE = "item_index.json"
MIN_ITEMS = 200_000


@dataclass(frozen=True)
class IndexParams:
    """``nlist`` k-means cells (0: ``4·sqrt(V)``), ``nprobe`` cells scanned per query, and how many candidates
    serving re-scores exactly (plus ``k`` and the excluded items)."""

    nlist: int = 0
    nprobe: int = 64
    candidates: int = 100
    train_per_cell: int = 40

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> IndexParams:
        unknown = set(raw) - set(asdict(cls()))
        if unknown:
            raise ValueError(f"IndexParams: unknown keys {sorted(unknown)}")
        return cls(**raw)


def _augment_items(items: np.ndarray) -> tuple[np.ndarray, float]:
    norms = np.einsum("ij,ij->i", items, items)
    extra = np.sqrt(np.maximum(norms.max() - norms, 0.0))
    return np.ascontiguousarray(np.hstack([items, extra[:, None]]), dtype=np.float32), float(
        np.sqrt(norms.max())
    )


@dataclass
class ItemIndex:
    """A loaded IVF index; ids are rows of the item embedding matrix (vocabulary indices)."""

    index: Any  # faiss.IndexIVFFlat
    params: IndexParams
    n_items: int
    radius: float  # the largest item norm R

    def search(self, queries: np.ndarray, n: int) -> np.ndarray:
        """``queries [B, d]`` -> ``[B, n]`` candidate rows by approximate inner product (-1 where none)."""
        q = np.asarray(queries, dtype=np.float32)
        norms = np.linalg.norm(q, axis=1, keepdims=True)
        q = q * (self.radius / np.maximum(norms, 1e-12))  # a positive scale: the same inner-product order
        q = np.ascontiguousarray(np.hstack([q, np.zeros((q.shape[0], 1), dtype=np.float32)]))
        _, ids = self.index.search(q, min(n, self.n_items))
        return ids  # type: ignore[no-any-return]


def set_search_threads(n: int) -> None:
    """faiss's OpenMP threads for this process (serving: as many as torch's intra-op threads, by default 1)."""
    faiss.omp_set_num_threads(n)


def build_item_index(items: np.ndarray, params: IndexParams | None = None, seed: int = 0) -> ItemIndex:
    """An IVF index over every row of ``items [V, d]`` (specials included; callers drop them)."""
    params = params or IndexParams()
    items = np.asarray(items, dtype=np.float32)
    data, radius = _augment_items(items)
    nlist = params.nlist or max(1, int(4 * np.sqrt(items.shape[0])))
    params = IndexParams(nlist, params.nprobe, params.candidates, params.train_per_cell)
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(data.shape[1]), data.shape[1], nlist)
    rng = np.random.default_rng(seed)
    n_train = min(data.shape[0], nlist * params.train_per_cell)
    index.train(data[rng.choice(data.shape[0], n_train, replace=False)])
    index.add(data)
    index.nprobe = params.nprobe
    return ItemIndex(index, params, items.shape[0], radius)


def write_item_index(
    folder: Path, items: Any, params: IndexParams | None = None, min_items: int = MIN_ITEMS
) -> Path | None:
    """Build and save the index of ``items [V, d]`` (a tensor or array) into ``folder`` when ``V >= min_items``;
    returns the index path, or None for a small catalogue."""
    array = items.detach().cpu().float().numpy() if hasattr(items, "detach") else np.asarray(items)
    if array.shape[0] < min_items:
        return None
    t0 = time.perf_counter()
    built = build_item_index(array, params)
    build_s = round(time.perf_counter() - t0, 2)
    path = Path(folder) / INDEX_FILE
    faiss.write_index(built.index, str(path))
    meta = {"kind": "ivfflat-mips", "n_items": built.n_items, "dim": int(array.shape[1]), "radius": built.radius,
            "build_s": build_s, **asdict(built.params)}  # fmt: skip
    (Path(folder) / META_FILE).write_text(json.dumps(meta, indent=2))
    return path


def load_item_index(folder: Path, n_items: int, dim: int) -> ItemIndex | None:
    """The index saved in ``folder`` (None when there is none); raises ValueError when it does not fit the model."""
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
    index.nprobe = params.nprobe
    return ItemIndex(index, params, n_items, float(meta["radius"]))
