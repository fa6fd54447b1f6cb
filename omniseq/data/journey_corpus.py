"""Simulated journey corpora (simulate, then encode) and the per-category item catalogue that turns generated
zone-level purchases back into item baskets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from omniseq.data.base import default_root
from omniseq.data.journey_encoding import EncodingConfig, encode_journey
from omniseq.data.sim.store_layout import StoreLayout
from omniseq.data.sim.store_plans import store
from omniseq.data.sim.store_sim import Journey, StoreSimConfig, StoreSimulator, baskets_from, category_of


@dataclass
class Corpus:
    layout: StoreLayout
    journeys: list[Journey]
    words: list[list[str]]


def basket_source(source: str, root: str | Path | None = None) -> str:
    """``auto`` means Ta-Feng baskets when the shared data holds them, else the omnichannel simulator's."""
    if source != "auto":
        return source
    base = Path(root) if root else default_root()
    return "tafeng" if (base / "tafeng_nbr_reality_check" / "tafeng_merged.json").is_file() else "simulator"


def simulate_corpus(
    store_id: str,
    n: int,
    seed: int = 0,
    source: str = "simulator",
    skip: int = 0,
    root: str | Path | None = None,
    layout: StoreLayout | None = None,
    enc: EncodingConfig | None = None,
) -> Corpus:
    """Journeys ``skip .. skip+n-1`` of a store (baskets ``skip..`` of ``source``), simulated and encoded."""
    lay = layout or store(store_id)
    sim = StoreSimulator(lay, replace(StoreSimConfig(), seed=seed))
    baskets: Iterator[tuple[str, tuple[str, ...]]] = baskets_from(source, str(root) if root else None)
    for _ in range(skip):
        next(baskets)
    journeys = list(sim.stream(baskets, n, start=skip))
    enc = enc or EncodingConfig()
    return Corpus(lay, journeys, [encode_journey(lay, j, enc)[0] for j in journeys])


def catalog(journeys: Sequence[Journey], per_category: int = 50) -> dict[str, list[str]]:
    """The most bought items of each category in these journeys' receipts (most frequent first)."""
    counts: dict[str, Counter[str]] = {}
    for j in journeys:
        for item in j.receipt.items if j.receipt else ():
            counts.setdefault(category_of(item), Counter())[item] += 1
    return {c: [i for i, _ in cnt.most_common(per_category)] for c, cnt in sorted(counts.items())}
