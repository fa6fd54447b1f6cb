"""Journey tokenizers: byte-level BPE over the location-code text (seed arXiv 2407.11081) and, as the ablation,
one token per location code.

A journey is a list of words (six-character codes and the purchase word ``$``). Ids 0, 1, 2 are always
``<pad>``, ``<s>``, ``</s>``; :meth:`encode` adds neither ``<s>`` nor ``</s>``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
SPECIALS = ("<pad>", "<s>", "</s>")


class JourneyTokenizer(Protocol):
    kind: str

    @property
    def vocab_size(self) -> int: ...

    def encode(self, words: Sequence[str]) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> list[str]: ...

    def to_dict(self) -> dict[str, Any]: ...


class BPETokenizer:
    """Byte-level BPE (``tokenizers``), trained on the journeys' text."""

    kind = "bpe"

    def __init__(self, tok: Tokenizer) -> None:
        self.tok = tok

    @classmethod
    def train(cls, journeys: Iterable[Sequence[str]], vocab_size: int = 2000) -> BPETokenizer:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=list(SPECIALS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator((" ".join(w) for w in journeys), trainer=trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        return int(self.tok.get_vocab_size())

    def encode(self, words: Sequence[str]) -> list[int]:
        return list(self.tok.encode(" ".join(words)).ids)

    def decode(self, ids: Sequence[int]) -> list[str]:
        return str(self.tok.decode([i for i in ids if i > EOS_ID])).split()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "tokenizer": self.tok.to_str()}


class CodeTokenizer:
    """One token per distinct word seen in training (``<unk>`` for the rest)."""

    kind = "code"

    def __init__(self, words: Sequence[str]) -> None:
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def train(cls, journeys: Iterable[Sequence[str]]) -> CodeTokenizer:
        seen = Counter(w for j in journeys for w in j)
        return cls([*SPECIALS, "<unk>", *sorted(seen)])

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def encode(self, words: Sequence[str]) -> list[int]:
        unk = self.index["<unk>"]
        return [self.index.get(w, unk) for w in words]

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.words[i] for i in ids if i > EOS_ID]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "words": self.words}


def train_tokenizer(kind: str, journeys: Sequence[Sequence[str]], vocab_size: int = 2000) -> JourneyTokenizer:
    if kind == "bpe":
        return BPETokenizer.train(journeys, vocab_size)
    if kind == "code":
        return CodeTokenizer.train(journeys)
    raise ValueError(f"unknown tokenizer {kind!r}; choose 'bpe' or 'code'")


def tokenizer_from_dict(raw: dict[str, Any]) -> JourneyTokenizer:
    if raw.get("kind") == "bpe":
        return BPETokenizer(Tokenizer.from_str(raw["tokenizer"]))
    if raw.get("kind") == "code":
        return CodeTokenizer(raw["words"])
    raise ValueError(f"not a journey tokenizer: kind {raw.get('kind')!r}")


def dumps(tok: JourneyTokenizer) -> str:
    return json.dumps(tok.to_dict())
