"""Model inputs: the one encoding of hybrid sequences into tensors, shared by training and serving (no skew).

Vocabulary indices (docs/ARCHITECTURE.md, model I/O contract): 0 = padding, 1 = the in-store basket token,
2.. = items. Unknown raw items are dropped; a basket left empty is dropped.

A sequence is first turned into *units* ``(index, basket, online)`` -- one per online event (``index`` = item,
``basket`` = ``()``) and one per in-store basket (``index`` = :data:`BASKET`, ``basket`` = item indices). The
store mode then lays units out as tokens:

``none``     baskets dropped (plain SASRec / BERT4Rec on online behaviour only)
``flatten``  every basket item becomes its own token (SASRec w/store); these tokens are not online
``avg``      one basket token per basket, its contents in ``baskets`` (pooled by averaging: avgE)
``attn``     same layout as ``avg`` (pooled by the store-transaction encoder: attnE)

:func:`encode_sequence` (serving, from a :class:`~omniseq.features.sequence.HybridSequence`) and
:func:`units_from_behaviours` (training, from raw :mod:`omniseq.schema` histories) both end in :func:`layout`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, get_args

import torch
from torch import Tensor

from omniseq.features.sequence import HybridSequence
from omniseq.schema import Behaviour, StoreTransaction

PAD: Final[int] = 0
BASKET: Final[int] = 1
N_SPECIALS: Final[int] = 2
SPECIAL_NAMES: Final[tuple[str, str]] = ("<pad>", "<basket>")

StoreMode = Literal["none", "flatten", "avg", "attn"]
STORE_MODES: Final[tuple[str, ...]] = get_args(StoreMode)


@dataclass(frozen=True)
class InputSpec:
    """How sequences become tensors: the last ``max_len`` tokens, baskets of at most ``max_basket`` items."""

    max_len: int = 50
    max_basket: int = 16
    store_mode: StoreMode = "none"

    def __post_init__(self) -> None:
        if isinstance(self.max_len, bool) or not isinstance(self.max_len, int) or self.max_len < 1:
            raise ValueError(f"InputSpec.max_len must be an integer >= 1, got {self.max_len!r}")
        if isinstance(self.max_basket, bool) or not isinstance(self.max_basket, int) or self.max_basket < 1:
            raise ValueError(f"InputSpec.max_basket must be an integer >= 1, got {self.max_basket!r}")
        if self.store_mode not in STORE_MODES:
            raise ValueError(
                f"InputSpec.store_mode must be one of {list(STORE_MODES)}, got {self.store_mode!r}"
            )

    @property
    def uses_baskets(self) -> bool:
        return self.store_mode in ("avg", "attn")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> InputSpec:
        unknown = set(raw) - {"max_len", "max_basket", "store_mode"}
        if unknown:
            raise ValueError(f"InputSpec: unknown keys {sorted(unknown)}")
        return cls(**raw)


# --- vocabulary ---------------------------------------------------------------------------------------------------


def build_vocab(item_ids: Iterable[str]) -> list[str]:
    """``vocab.json`` content: specials then raw item ids in first-seen order (deterministic)."""
    seen: dict[str, None] = {}
    for item in item_ids:
        if item in SPECIAL_NAMES:
            raise ValueError(f"item id {item!r} collides with a special token name")
        seen.setdefault(item, None)
    return [*SPECIAL_NAMES, *seen]


def vocab_index(vocab: Sequence[str]) -> dict[str, int]:
    """Raw id -> index for items only (specials are never looked up from raw ids)."""
    if list(vocab[:N_SPECIALS]) != list(SPECIAL_NAMES):
        raise ValueError(f"vocabulary must start with {list(SPECIAL_NAMES)}, got {list(vocab[:N_SPECIALS])}")
    return {item: i for i, item in enumerate(vocab) if i >= N_SPECIALS}


# --- units and layout ---------------------------------------------------------------------------------------------

Unit = tuple[int, tuple[int, ...], bool]  # (index, basket item indices, online)


def _basket_unit(items: Iterable[str], vocab: Mapping[str, int]) -> Unit | None:
    idx = tuple(i for i in (vocab.get(x) for x in items) if i is not None and i >= N_SPECIALS)
    return (BASKET, idx, False) if idx else None


def _online_unit(item: str, vocab: Mapping[str, int]) -> Unit | None:
    i = vocab.get(item)
    return (i, (), True) if i is not None and i >= N_SPECIALS else None


def indexed_units(seq: HybridSequence, vocab: Mapping[str, int]) -> list[tuple[int, Unit]]:
    """The units of ``seq``, each with the position in ``seq.tokens`` of the behaviour it came from."""
    out: list[tuple[int, Unit]] = []
    for pos, t in enumerate(seq.tokens):
        u = _basket_unit(t.basket, vocab) if t.is_basket else _online_unit(t.item_id, vocab)
        if u is not None:
            out.append((pos, u))
    return out


def units_from_sequence(seq: HybridSequence, vocab: Mapping[str, int]) -> list[Unit]:
    return [u for _, u in indexed_units(seq, vocab)]


def units_from_behaviours(history: Iterable[Behaviour], vocab: Mapping[str, int]) -> list[Unit]:
    """The fast training path: a time-ordered raw history (``omniseq.data.histories``) straight to units."""
    out: list[Unit] = []
    for b in history:
        u = (
            _basket_unit(b.items, vocab)
            if isinstance(b, StoreTransaction)
            else _online_unit(b.item_id, vocab)
        )
        if u is not None:
            out.append(u)
    return out


def expand(units: Sequence[Unit], spec: InputSpec) -> list[Unit]:
    """Units as tokens of ``spec.store_mode`` (all of them; :func:`layout` keeps the last ``max_len``)."""
    if spec.store_mode == "none":
        return [u for u in units if u[0] != BASKET]
    if spec.store_mode == "flatten":
        out: list[Unit] = []
        for u in units:
            if u[0] == BASKET:
                out.extend((i, (), False) for i in u[1])
            else:
                out.append(u)
        return out
    return [(i, b[: spec.max_basket], o) for i, b, o in units]


def layout_many(
    seqs: Sequence[Sequence[Unit]], length: int, max_basket: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Left-padded ``tokens [N, length]``, ``baskets [N, length, max_basket]``, ``online [N, length]`` (bool) of
    the last ``length`` expanded tokens of each sequence (built as flat lists, one tensor each)."""
    tok = [0] * (len(seqs) * length)
    onl = [False] * (len(seqs) * length)
    b_pos: list[int] = []
    b_val: list[int] = []
    for r, units in enumerate(seqs):
        tail = units[-length:] if length else []
        base = r * length + length - len(tail)
        for j, (idx, basket, online) in enumerate(tail):
            tok[base + j] = idx
            onl[base + j] = online
            for m, item in enumerate(basket[:max_basket]):
                b_pos.append((base + j) * max_basket + m)
                b_val.append(item)
    bsk = torch.zeros(len(seqs) * length * max_basket, dtype=torch.int64)
    if b_pos:
        bsk[torch.tensor(b_pos, dtype=torch.int64)] = torch.tensor(b_val, dtype=torch.int64)
    shape = (len(seqs), length)
    return (
        torch.tensor(tok, dtype=torch.int64).view(shape),
        bsk.view(*shape, max_basket),
        torch.tensor(onl, dtype=torch.bool).view(shape),
    )


def layout(tokens: Sequence[Unit], length: int, max_basket: int) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`layout_many` of one sequence: ``tokens [length]``, ``baskets [length, M]``, ``online [length]``."""
    t, b, o = layout_many([tokens], length, max_basket)
    return t[0], b[0], o[0]


def encode_sequence(seq: HybridSequence, vocab: Mapping[str, int], spec: InputSpec) -> tuple[Tensor, Tensor]:
    """``tokens [L] int64`` (left-padded) and ``baskets [L, M] int64`` of a hybrid sequence (serving and training)."""
    tok, bsk, _ = layout(expand(units_from_sequence(seq, vocab), spec), spec.max_len, spec.max_basket)
    return tok, bsk


def collate(pairs: Sequence[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    """Stack encoded sequences into ``tokens [B, L]`` and ``baskets [B, L, M]``."""
    if not pairs:
        raise ValueError("collate: empty batch")
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


def encode_batch(
    seqs: Sequence[HybridSequence], vocab: Mapping[str, int], spec: InputSpec
) -> tuple[Tensor, Tensor]:
    return collate([encode_sequence(s, vocab, spec) for s in seqs])
