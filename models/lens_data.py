"""Basket histories for LENS: loading (Ta-Feng, Dunnhumby, the online store's hybrid sequence), session features,
vocabularies, training instances and batches.

A :class:`BasketHistory` is one customer's baskets in time order with optional timestamps, amounts, quantities and
stores. Session features (:func:`session_features`, 13 per basket) are computed by the same function for training
and serving: ``log1p(gap days)``, ``log1p(basket size)``, day of week (7, one-hot), day of year (sin, cos),
``log1p(amount)``, ``log1p(quantity)``. Without timestamps (Ta-Feng's Reality Check files) the date and gap
features are 0; without amounts/quantities those are 0.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import torch
from torch import Tensor

from models.lens import L_EOS, L_PAD, N_LENS_SPECIALS, N_SESSION_FEATURES
from omniseq.data.base import require_file
from omniseq.features.sequence import HybridSequence

DAY_MS = 86_400_000
LENS_SPECIALS = ("<pad>", "<eos>", "<bos>")
TAFENG_DIR = "tafeng_nbr_reality_check"
DUNNHUMBY_FILE = "dunnhumby_completejourney_2017/transactions.parquet"


@dataclass
class BasketHistory:
    user_id: str
    baskets: list[list[str]]
    ts_ms: list[int] | None = None
    amounts: list[float] | None = None
    quantities: list[float] | None = None
    stores: list[str] | None = None

    def __len__(self) -> int:
        return len(self.baskets)

    def upto(self, n: int) -> BasketHistory:
        """The first ``n`` baskets."""

        def cut(xs: list[Any] | None) -> list[Any] | None:
            return None if xs is None else xs[:n]

        return BasketHistory(
            self.user_id,
            self.baskets[:n],
            cut(self.ts_ms),
            cut(self.amounts),
            cut(self.quantities),
            cut(self.stores),
        )

    def gap_days(self, i: int) -> float | None:
        """Days from basket ``i - 1`` to basket ``i`` (None without timestamps)."""
        if self.ts_ms is None or i <= 0:
            return None
        return (self.ts_ms[i] - self.ts_ms[i - 1]) / DAY_MS


def session_features(h: BasketHistory) -> list[list[float]]:
    """One feature vector of length :data:`N_SESSION_FEATURES` per basket of ``h``."""
    out = []
    for i, basket in enumerate(h.baskets):
        f = [0.0] * N_SESSION_FEATURES
        gap = h.gap_days(i)
        f[0] = math.log1p(max(gap, 0.0)) if gap is not None else 0.0
        f[1] = math.log1p(len(basket))
        if h.ts_ms is not None:
            d = datetime.fromtimestamp(h.ts_ms[i] / 1000, tz=UTC)
            f[2 + d.weekday()] = 1.0
            angle = 2 * math.pi * d.timetuple().tm_yday / 365.25
            f[9], f[10] = math.sin(angle), math.cos(angle)
        if h.amounts is not None:
            f[11] = math.log1p(max(h.amounts[i], 0.0))
        if h.quantities is not None:
            f[12] = math.log1p(max(h.quantities[i], 0.0))
        out.append(f)
    return out


def from_sequence(seq: HybridSequence) -> BasketHistory:
    """The basket history inside a hybrid behaviour sequence (the online store's ``user_hybrid_seq`` view): its
    in-store basket tokens with their timestamps and stores; online events are ignored."""
    toks = [t for t in seq.tokens if t.is_basket]
    return BasketHistory(
        seq.user_id,
        [list(t.basket) for t in toks],
        [t.ts_ms for t in toks],
        None,
        None,
        [t.store_id for t in toks],
    )


def _strip(baskets: list[list[int]]) -> list[list[str]]:
    """Reality Check files wrap histories in ``[-1]`` sentinels."""
    return [[str(i) for i in b] for b in baskets if b and b != [-1]]


def load_tafeng(root: Path) -> tuple[dict[str, BasketHistory], dict[str, list[str]]]:
    """Ta-Feng as preprocessed by the Next-Basket Reality Check: ``(history per user, future basket per user)``.
    No timestamps (the Reality Check files carry none)."""
    hist = json.loads(require_file(root / TAFENG_DIR / "tafeng_history.json").read_text())
    fut = json.loads(require_file(root / TAFENG_DIR / "tafeng_future.json").read_text())
    histories, futures = {}, {}
    for uid, baskets in hist.items():
        b = _strip(baskets)
        f = _strip(fut.get(uid, []))
        if b and f:
            histories[uid] = BasketHistory(uid, b)
            futures[uid] = f[0]
    return histories, futures


def load_dunnhumby(root: Path, max_users: int | None = None, seed: int = 0) -> dict[str, BasketHistory]:
    """Dunnhumby Complete Journey: one basket per ``basket_id`` (first line's timestamp, summed sales value and
    quantity, the store); lines with quantity <= 0 dropped. ``max_users`` samples households (seeded)."""
    cols = [
        "household_id",
        "store_id",
        "basket_id",
        "product_id",
        "quantity",
        "sales_value",
        "transaction_timestamp",
    ]
    df = pq.read_table(require_file(root / DUNNHUMBY_FILE), columns=cols).to_pandas()
    df = df[df["quantity"] > 0]
    if max_users is not None:
        users = sorted(df["household_id"].unique().tolist())
        keep = set(random.Random(seed).sample(users, min(max_users, len(users))))
        df = df[df["household_id"].isin(keep)]
    df = df.sort_values(["household_id", "transaction_timestamp", "basket_id"], kind="stable")
    hh = df["household_id"].to_numpy()
    bid = df["basket_id"].to_numpy()
    ts = df["transaction_timestamp"].to_numpy().astype("int64") // 1_000_000
    prod = df["product_id"].astype(str).to_numpy()
    qty = df["quantity"].to_numpy()
    value = df["sales_value"].to_numpy()
    store = df["store_id"].astype(str).to_numpy()
    starts = [0] + [i for i in range(1, len(df)) if bid[i] != bid[i - 1] or hh[i] != hh[i - 1]] + [len(df)]
    out: dict[str, BasketHistory] = {}
    for a, z in zip(starts[:-1], starts[1:], strict=True):
        h = out.setdefault(str(hh[a]), BasketHistory(str(hh[a]), [], [], [], [], []))
        assert (
            h.ts_ms is not None
            and h.amounts is not None
            and h.quantities is not None
            and h.stores is not None
        )
        h.baskets.append(list(dict.fromkeys(prod[a:z].tolist())))
        h.ts_ms.append(int(ts[a]))
        h.amounts.append(float(value[a:z].sum()))
        h.quantities.append(float(qty[a:z].sum()))
        h.stores.append(str(store[a]))
    return out


@dataclass
class LensVocab:
    """Items by descending training frequency after the specials (so sorting a basket by index sorts it from
    popular to rare: the order the decoder is taught); users in first-seen order after the unknown user."""

    items: list[str]
    users: list[str]
    item_index: dict[str, int] = field(init=False)
    user_index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.item_index = {x: i for i, x in enumerate(self.items)}
        self.user_index = {u: i for i, u in enumerate(self.users)}

    @classmethod
    def build(
        cls, baskets: Iterable[Sequence[str]], users: Iterable[str], max_items: int | None = None
    ) -> LensVocab:
        counts = Counter(i for b in baskets for i in b)
        ranked = [i for i, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:max_items]
        return cls([*LENS_SPECIALS, *ranked], ["<unknown>", *dict.fromkeys(users)])

    def encode_basket(self, basket: Sequence[str], limit: int) -> list[int]:
        """Known items as indices, popular first, at most ``limit``."""
        return sorted({self.item_index[i] for i in basket if i in self.item_index})[:limit]


@dataclass(frozen=True)
class Instance:
    """One training or evaluation example: a history prefix and what came next."""

    user: int
    baskets: list[list[int]]
    feats: list[list[float]]
    target: list[int]  # item indices (may be empty) -- the batch appends <eos>
    gap_days: float | None


def make_instance(
    h: BasketHistory,
    vocab: LensVocab,
    n_hist: int,
    target: Sequence[str] | None,
    gap_days: float | None,
    max_baskets: int,
    max_basket_size: int,
) -> Instance:
    """Baskets ``[:n_hist]`` of ``h`` (the last ``max_baskets``) as the input; ``target`` as the next basket."""
    start = max(0, n_hist - max_baskets)
    feats = session_features(h.upto(n_hist))[start:]
    encoded = [vocab.encode_basket(b, max_basket_size) for b in h.baskets[start:n_hist]]
    kept = [
        (b, f) for b, f in zip(encoded, feats, strict=True) if b
    ]  # baskets of unknown items only: dropped
    tgt = vocab.encode_basket(target or [], max_basket_size)
    return Instance(
        vocab.user_index.get(h.user_id, 0), [b for b, _ in kept], [f for _, f in kept], tgt, gap_days
    )


def prefix_instances(
    h: BasketHistory,
    vocab: LensVocab,
    max_baskets: int,
    max_basket_size: int,
    max_per_user: int,
    rng: random.Random,
) -> list[Instance]:
    """ "Continuously incrementing" prefixes of one history: predict basket t from baskets < t (t >= 1); at most
    ``max_per_user`` (the most recent ones are always kept, older ones sampled)."""
    cutoffs = list(range(1, len(h)))
    if len(cutoffs) > max_per_user:
        keep = cutoffs[-1:] + rng.sample(cutoffs[:-1], max_per_user - 1)
        cutoffs = sorted(keep)
    return [
        make_instance(h, vocab, t, h.baskets[t], h.gap_days(t), max_baskets, max_basket_size) for t in cutoffs
    ]


def collate(instances: Sequence[Instance], max_target: int) -> dict[str, Tensor]:
    """Pad a list of instances into the tensors :meth:`models.lens.LENS.loss` takes."""
    b = len(instances)
    t = max(max(len(x.baskets) for x in instances), 1)
    m = max(max((len(bk) for x in instances for bk in x.baskets), default=1), 1)
    s = min(max(len(x.target) for x in instances), max_target) + 1
    baskets = torch.full((b, t, m), L_PAD, dtype=torch.long)
    feats = torch.zeros(b, t, N_SESSION_FEATURES)
    target = torch.full((b, s), L_PAD, dtype=torch.long)
    gap = torch.zeros(b)
    known = torch.zeros(b, dtype=torch.bool)
    for r, x in enumerate(instances):
        for j, bk in enumerate(x.baskets):
            if bk:
                baskets[r, j, : len(bk)] = torch.tensor(bk)
        if x.feats:
            feats[r, : len(x.feats)] = torch.tensor(x.feats)
        tg = x.target[: s - 1] + [L_EOS]
        target[r, : len(tg)] = torch.tensor(tg)
        if x.gap_days is not None:
            gap[r], known[r] = x.gap_days, True
    users = torch.tensor([x.user for x in instances], dtype=torch.long)
    return {
        "baskets": baskets,
        "feats": feats,
        "users": users,
        "target": target,
        "gap_days": gap,
        "gap_known": known,
    }


def item_ids(indices: Sequence[int], vocab: LensVocab) -> list[str]:
    return [vocab.items[i] for i in indices if i >= N_LENS_SPECIALS]


def histories_from_dataset(dataset: Any) -> dict[str, BasketHistory]:
    """Basket histories from any :class:`omniseq.data.base.Dataset` adapter's in-store transactions (time order)."""
    txns: dict[str, list[Any]] = {}
    for t in dataset.store_transactions():
        txns.setdefault(t.user_id, []).append(t)
    out = {}
    for u, ts in txns.items():
        ts.sort(key=lambda t: (t.ts_ms, t.txn_id))
        out[u] = BasketHistory(
            u, [list(t.items) for t in ts], [t.ts_ms for t in ts], None, None, [t.store_id for t in ts]
        )
    return out
