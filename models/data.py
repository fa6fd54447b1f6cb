"""From hybrid histories to training / evaluation tensors (leave-last-out, as in the seed §VI-A).

Per user the history becomes units (:mod:`models.inputs`), laid out in the model's store mode. The *last online*
token is the test target, the online token before it the validation target; inputs are everything before the
target (baskets included). Training sees the tokens before the validation target. Users with fewer than three
online behaviours are used for training only.

Sources: dataset adapters (:func:`from_dataset`, any ``omniseq.data.load`` name) and offline-store feature rows
(:func:`from_feature_frame`, the hook for ``omniseq/features/training.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from models.inputs import (
    PAD,
    InputSpec,
    Unit,
    build_vocab,
    expand,
    layout_many,
    units_from_behaviours,
    units_from_sequence,
)
from omniseq.data import histories, load
from omniseq.features.sequence import HybridSequence
from omniseq.schema import Behaviour, StoreTransaction

MIN_ONLINE_FOR_EVAL = 3


@dataclass
class SequenceData:
    """Users' unit sequences over one vocabulary, plus the data's time range."""

    vocab: list[str]
    users: list[str]
    units: list[list[Unit]]
    first_ts_ms: int | None = None
    last_ts_ms: int | None = None

    @property
    def n_items(self) -> int:
        return len(self.vocab)

    def train_data_range(self) -> dict[str, Any]:
        return {"first_ts_ms": self.first_ts_ms, "last_ts_ms": self.last_ts_ms, "users": len(self.users)}


def _items_of(history: Iterable[Behaviour]) -> Iterable[str]:
    for b in history:
        if isinstance(b, StoreTransaction):
            yield from b.items
        else:
            yield b.item_id


def from_histories(histories: Mapping[str, Sequence[Behaviour]]) -> SequenceData:
    """Time-ordered raw histories (``omniseq.data.histories``) -> vocabulary + units (the fast path)."""
    vocab = build_vocab(x for h in histories.values() for x in _items_of(h))
    index = {item: i for i, item in enumerate(vocab)}
    users, units = list(histories), [units_from_behaviours(h, index) for h in histories.values()]
    stamps = [b.ts_ms for h in histories.values() for b in (h[0], h[-1]) if h]
    return SequenceData(vocab, users, units, min(stamps, default=None), max(stamps, default=None))


def from_dataset(name: str, root: str | None = None, **opts: Any) -> SequenceData:
    """Any dataset adapter by name (``beauty``, ``hm``, ``user-item:<path>``, ``sim:<dir>``, ...)."""
    return from_histories(histories(load(name, root, **opts)))


def from_feature_frame(frame: Any, label_column: str | None = None) -> SequenceData:
    """Offline-store rows (``user_id`` + the sequence features of :mod:`omniseq.features.sequence`, e.g. from the
    training-set builder) -> data. The newest row per user (by ``event_timestamp`` when present) is that user's
    sequence; an optional ``label_column`` holds a raw item id appended as the final online behaviour."""
    if "user_id" not in frame.columns:
        raise ValueError(f"feature frame lacks 'user_id' (columns: {list(frame.columns)})")
    if "event_timestamp" in frame.columns:
        frame = frame.sort_values("event_timestamp")
    rows = frame.drop_duplicates("user_id", keep="last")
    seqs: list[HybridSequence] = []
    labels: list[str | None] = []
    for rec in rows.to_dict("records"):
        seqs.append(HybridSequence.from_features(str(rec["user_id"]), rec))
        labels.append(str(rec[label_column]) if label_column and rec.get(label_column) else None)
    raw = [x for s in seqs for t in s.tokens for x in (t.basket if t.is_basket else (t.item_id,))]
    vocab = build_vocab([*raw, *(x for x in labels if x)])
    index = {item: i for i, item in enumerate(vocab)}
    units = [units_from_sequence(s, index) for s in seqs]
    for u, label in zip(units, labels, strict=True):
        if label:
            u.append((index[label], (), True))
    stamps = [t.ts_ms for s in seqs for t in s.tokens]
    return SequenceData(
        vocab, [s.user_id for s in seqs], units, min(stamps, default=None), max(stamps, default=None)
    )


def online_positions(tokens: Sequence[Unit]) -> list[int]:
    return [i for i, u in enumerate(tokens) if u[2]]


def training_tensors(data: SequenceData, spec: InputSpec) -> dict[str, Tensor]:
    """``tokens [N, L+1]``, ``baskets [N, L+1, M]``, ``online [N, L+1]``: each user's tokens before the validation
    target (the last ``L+1``; SASRec shifts them by one, BERT4Rec masks the last ``L``)."""
    rows: list[list[Unit]] = []
    for units in data.units:
        tokens = expand(units, spec)
        pos = online_positions(tokens)
        cut = pos[-2] if len(pos) >= MIN_ONLINE_FOR_EVAL else len(tokens)
        if cut < 2 or not any(u[2] for u in tokens[1:cut]):
            continue
        rows.append(tokens[:cut])
    if not rows:
        raise ValueError("no user has enough behaviour to train on")
    t, b, o = layout_many(rows, spec.max_len + 1, spec.max_basket)
    return {"tokens": t, "baskets": b, "online": o}


@dataclass
class EvalSet:
    """Leave-last-out inputs: ``tokens [N, L]``, ``baskets [N, L, M]``, ``targets [N]``, and each user's whole
    input history as CSR (``seen_items``/``seen_offsets``) for excluding seen items from sampled negatives."""

    split: str
    tokens: Tensor
    baskets: Tensor
    targets: Tensor
    seen_items: Tensor
    seen_offsets: Tensor

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def subset(self, n: int) -> EvalSet:
        m = min(n, len(self))
        end = int(self.seen_offsets[m])
        return EvalSet(
            self.split,
            self.tokens[:m],
            self.baskets[:m],
            self.targets[:m],
            self.seen_items[:end],
            self.seen_offsets[: m + 1],
        )


def eval_set(data: SequenceData, spec: InputSpec, split: str) -> EvalSet:
    """``split`` = ``"valid"`` (second-last online target) or ``"test"`` (last online target)."""
    if split not in ("valid", "test"):
        raise ValueError(f"split must be 'valid' or 'test', got {split!r}")
    back = 2 if split == "valid" else 1
    rows: list[list[Unit]] = []
    targets: list[int] = []
    seen: list[int] = []
    offsets = [0]
    for units in data.units:
        tokens = expand(units, spec)
        pos = online_positions(tokens)
        if len(pos) < MIN_ONLINE_FOR_EVAL:
            continue
        cut = pos[-back]
        rows.append(tokens[:cut])
        targets.append(tokens[cut][0])
        seen.extend(sorted({i for u in tokens[:cut] for i in (u[1] if u[1] else (u[0],))}))
        offsets.append(len(seen))
    if not targets:
        raise ValueError(f"no user has the {MIN_ONLINE_FOR_EVAL} online behaviours a {split} target needs")
    t, b, _ = layout_many(rows, spec.max_len, spec.max_basket)
    return EvalSet(
        split,
        t,
        b,
        torch.tensor(targets, dtype=torch.int64),
        torch.tensor(seen, dtype=torch.int64),
        torch.tensor(offsets, dtype=torch.int64),
    )


# --- batching -----------------------------------------------------------------------------------------------------


def trim_leading_padding(batch: dict[str, Tensor], keep: int = 2) -> dict[str, Tensor]:
    """Drop the leading columns that are padding in every row of a left-padded batch (at least ``keep`` columns
    stay). Models count positions from the right, so their outputs are unchanged; the work shrinks with the
    longest sequence of the batch instead of ``max_len``."""
    tokens = batch["tokens"]
    real = (tokens != PAD).any(0)
    first = int(real.to(torch.int8).argmax()) if bool(real.any()) else tokens.shape[1]
    first = min(first, max(tokens.shape[1] - keep, 0))
    if first == 0:
        return batch
    return {k: v[:, first:] for k, v in batch.items()}


def sequence_lengths(tokens: Tensor) -> Tensor:
    """Non-padding tokens per row of a left-padded ``[N, L]`` tensor."""
    return (tokens != PAD).sum(1)


def bucketed_batches(
    lengths: Tensor, batch_size: int, generator: torch.Generator, pool: int = 50
) -> list[Tensor]:
    """Shuffled mini-batches of row indices whose sequences have similar lengths: a random permutation is cut into
    pools of ``pool`` batches, each pool is sorted by length and split into batches, and the batches are shuffled.
    Every row appears exactly once per epoch; with :func:`trim_leading_padding`, short sequences cost little."""
    n = int(lengths.shape[0])
    order = torch.randperm(n, generator=generator)
    batches: list[Tensor] = []
    for lo in range(0, n, batch_size * pool):
        chunk = order[lo : lo + batch_size * pool]
        chunk = chunk[torch.argsort(lengths[chunk], stable=True)]
        batches.extend(chunk.split(batch_size))
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
