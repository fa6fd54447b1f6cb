"""Model names -> architecture + store mode (the five variants of the seed's Table I, plus popularity)."""

from __future__ import annotations

from typing import Final

from models.base import ModelConfig, SequentialRecommender
from models.bert4rec import BERT4Rec
from models.c2rec import C2Rec
from models.popularity import Popularity
from models.sasrec import SASRec

#: name -> (class, store mode, label in result tables)
VARIANTS: Final[dict[str, tuple[type[SequentialRecommender], str, str]]] = {
    "sasrec": (SASRec, "none", "SASRec"),
    "bert4rec": (BERT4Rec, "none", "BERT4Rec"),
    "sasrec_wstore": (SASRec, "flatten", "SASRec w/store"),
    "sasrec_avge": (SASRec, "avg", "SASRec avgE"),
    "sasrec_attne": (SASRec, "attn", "SASRec attnE"),
    "popularity": (Popularity, "none", "Popularity"),
    "c2rec": (C2Rec, "attn", "C2Rec"),
}


def check_name(name: str) -> str:
    if name not in VARIANTS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(VARIANTS)}")
    return name


def store_mode_of(name: str) -> str:
    return VARIANTS[check_name(name)][1]


def label_of(name: str) -> str:
    return VARIANTS[check_name(name)][2]


def build_model(config: ModelConfig) -> SequentialRecommender:
    cls, mode, _ = VARIANTS[check_name(config.name)]
    if config.store_mode != mode:
        raise ValueError(f"model {config.name!r} needs store_mode {mode!r}, config has {config.store_mode!r}")
    return cls(config)
