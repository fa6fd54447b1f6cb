"""Popularity scores for users without a usable history (the answer is flagged ``fallback: true``).

A model version may carry ``popularity.json`` beside ``model.pt``: a JSON object mapping raw item id to a
non-negative number (an interaction count or a probability), usually the training set's item frequencies.
Items of the vocabulary missing from it score 0; ids not in the vocabulary are ignored. Without the file every
item scores the same (uniform over the vocabulary), so ties are broken by vocabulary order.
Specials (padding, basket token) always score -inf.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from models.inputs import N_SPECIALS

POPULARITY_FILE = "popularity.json"


def popularity_scores(version_dir: Path, index: dict[str, int], vocab_size: int) -> tuple[torch.Tensor, str]:
    """Scores over the vocabulary ([V] float32) and where they came from (``"popularity.json"`` or ``"uniform"``).

    Raises ValueError naming the file when ``popularity.json`` exists but is not a mapping of id to number >= 0."""
    path = Path(version_dir) / POPULARITY_FILE
    if not path.is_file():
        scores = torch.full((vocab_size,), 1.0 / max(vocab_size - N_SPECIALS, 1))
        scores[:N_SPECIALS] = -math.inf
        return scores, "uniform"
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object mapping item id to a number, got {type(data).__name__}")
    scores = torch.zeros(vocab_size)
    for item, value in data.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ValueError(f"{path}: item {item!r} has popularity {value!r}; expected a number >= 0")
        i = index.get(item)
        if i is not None and i >= N_SPECIALS:
            scores[i] = float(value)
    scores[:N_SPECIALS] = -math.inf
    return scores, POPULARITY_FILE
