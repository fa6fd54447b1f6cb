"""Basket completion (PARSRec): the loaded model bundle and the request logic behind ``POST /basket/complete``.

History is what the pipeline keeps in the online store's hybrid-sequence feature view (the items of the user's
in-store baskets and online purchases, oldest first); the basket comes from the request. The exported module
(:func:`models.export.export_torchscript`) returns the scores, the attention of the step that scores the next item
and the keys that attention refers to (the start-of-basket slot, then the basket items), which become each item's
``because``. A basket item the model does not know is reported and ignored; with neither a known basket item nor
history the answer is the popularity of the training baskets (``fallback: true``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from redis.exceptions import RedisError

from feature_repo.views import BASKET_CODE, EVENT_TYPE_CODES, SEQUENCE_FEATURES
from models.export import load_torchscript
from models.inputs import N_SPECIALS
from models.registry import ModelVersion
from omniseq.features.sequence import HybridSequence
from serving.bundle import ModelLoadError
from serving.fallback import popularity_scores
from serving.settings import ServingSettings

log = logging.getLogger(__name__)
USERS_FILE = "users.json"
HISTORY_SLOT = "<history>"
PURCHASE = EVENT_TYPE_CODES["purchase"]


@dataclass(frozen=True, eq=False)
class BasketBundle:
    version: str
    model_name: str
    manifest: Mapping[str, Any]
    module: Any  # torch.jit.ScriptModule: (users, history, basket) -> (scores, attention, keys)
    vocab: list[str]
    index: dict[str, int]
    user_index: dict[str, int]
    sequence_view: str
    feature_versions: dict[str, str]
    max_history: int
    popularity: torch.Tensor


def _smoke(module: Any, n_items: int) -> None:
    """A forward pass on a dummy batch (one row with history and basket, one with neither)."""
    if n_items <= N_SPECIALS + 1:
        raise ModelLoadError(f"vocabulary has {n_items} entries, too few items")
    users = torch.zeros(2, dtype=torch.long)
    history = torch.tensor([[N_SPECIALS, N_SPECIALS + 1], [0, 0]])
    basket = torch.tensor([[N_SPECIALS + 1, 0], [0, 0]])
    with torch.inference_mode():
        scores, att, keys = module(users, history, basket)
    if tuple(scores.shape) != (2, n_items) or not bool(torch.isfinite(scores[:, N_SPECIALS:]).all()):
        raise ModelLoadError(f"smoke check: scores {tuple(scores.shape)} are not [2, {n_items}] and finite")
    if tuple(att.shape) != tuple(keys.shape) or att.shape[0] != 2:
        raise ModelLoadError("smoke check: attention and keys do not match")


def load_basket_bundle(mv: ModelVersion) -> BasketBundle:
    """Load one registered basket-completion version and smoke-check it (raises :class:`ModelLoadError`)."""
    where = f"basket model version {mv.version}"
    manifest = dict(mv.manifest)
    fv = manifest.get("feature_versions")
    if not isinstance(fv, Mapping) or not isinstance(fv.get("sequence"), str):
        raise ModelLoadError(f"{where}: manifest feature_versions has no 'sequence' view name")
    try:
        vocab = [str(v) for v in mv.vocab()]
        users = json.loads((Path(mv.path) / USERS_FILE).read_text())
        module = load_torchscript(mv.model_path)
        _smoke(module, len(vocab))
        popularity, _ = popularity_scores(Path(mv.path), {x: i for i, x in enumerate(vocab)}, len(vocab))
    except ModelLoadError as exc:
        raise ModelLoadError(f"{where}: {exc}") from exc
    except Exception as exc:
        raise ModelLoadError(f"{where}: cannot load: {type(exc).__name__}: {exc}") from exc
    return BasketBundle(
        version=mv.version,
        model_name=str(manifest.get("model_name", "parsrec")),
        manifest=manifest,
        module=module,
        vocab=vocab,
        index={x: i for i, x in enumerate(vocab)},
        user_index={str(u): i for i, u in enumerate(users) if i > 0},
        sequence_view=str(fv["sequence"]),
        feature_versions={str(k): str(v) for k, v in fv.items()},
        max_history=int(manifest.get("input_spec", {}).get("max_history", 1000)),
        popularity=popularity,
    )


def make_loader(settings: ServingSettings) -> Any:
    return load_basket_bundle


def history_items(row: Mapping[str, Any] | None, user_id: str) -> list[str]:
    """Past items of a feature row: every in-store basket item and online purchase, oldest first."""
    if not row or not row.get("seq_len"):
        return []
    seq = HybridSequence.from_features(user_id, row)
    out: list[str] = []
    for tok in seq.tokens:
        if tok.type_code == BASKET_CODE:
            out.extend(tok.basket)
        elif tok.type_code == PURCHASE:
            out.append(tok.item_id)
    return out


@dataclass(frozen=True)
class Completion:
    items: list[dict[str, Any]]
    unknown_items: list[str]
    history_items: int
    history_status: str
    fallback: bool
    reason: str | None


def read_history(store: Any, bundle: BasketBundle, user_id: str) -> tuple[list[str], str]:
    """The user's past items from the online store and a status; a down store or a bad row is not fatal."""
    try:
        rows = store.read(bundle.sequence_view, [user_id], list(SEQUENCE_FEATURES))
    except (RedisError, OSError) as exc:
        log.warning("basket/complete: online store unreachable, answering without history: %s", exc)
        return [], "store_unavailable"
    try:
        items = history_items(rows[0] if rows else None, user_id)
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("user %s: undecodable feature row in %s: %s", user_id, bundle.sequence_view, exc)
        return [], "bad_features"
    return items, "ok" if items else "no_history"


def complete(
    bundle: BasketBundle,
    user_id: str,
    basket: Sequence[str],
    k: int,
    exclude: Sequence[str],
    history: Sequence[str],
    history_status: str,
) -> Completion:
    """Score the next items for ``basket`` given ``history`` (raw ids); see the module docstring."""
    known = list(
        dict.fromkeys(i for i in (bundle.index.get(x) for x in basket) if i is not None and i >= N_SPECIALS)
    )
    unknown = list(dict.fromkeys(x for x in basket if bundle.index.get(x, 0) < N_SPECIALS))
    hist = [i for i in (bundle.index.get(x) for x in history) if i is not None and i >= N_SPECIALS]
    hist = hist[-bundle.max_history :]
    banned = set(known) | {i for i in (bundle.index.get(x) for x in exclude) if i is not None}
    if not known and not hist:
        with torch.inference_mode():
            top = _top(bundle.popularity.clone(), banned, k)
        items = [{"item_id": bundle.vocab[i], "score": s, "because": []} for i, s in top]
        return Completion(items, unknown, 0, history_status, True, "no_signal")
    users = torch.tensor([bundle.user_index.get(user_id, 0)])
    h = torch.tensor([hist or [0]], dtype=torch.long)
    b = torch.tensor([known or [0]], dtype=torch.long)
    with torch.inference_mode():
        scores, att, keys = bundle.module(users, h, b)
        top = _top(scores[0].clone(), banned, k)
    because = _because(bundle, att[0].tolist(), keys[0].tolist())
    items = [{"item_id": bundle.vocab[i], "score": s, "because": because} for i, s in top]
    return Completion(items, unknown, len(hist), history_status, False, None)


def _top(scores: torch.Tensor, banned: set[int], k: int) -> list[tuple[int, float]]:
    scores[:N_SPECIALS] = -math.inf
    if banned:
        scores[torch.tensor(sorted(banned), dtype=torch.long)] = -math.inf
    values, idx = torch.topk(scores, min(k, scores.shape[0]))
    return [(i, v) for v, i in zip(values.tolist(), idx.tolist(), strict=True) if math.isfinite(v)]


def _because(bundle: BasketBundle, weights: list[float], keys: list[int]) -> list[dict[str, Any]]:
    """Attention weights over the start-of-basket slot (``<history>``) and the basket items, largest first."""
    out = [
        {"item_id": HISTORY_SLOT if j == 0 else bundle.vocab[key], "weight": w}
        for j, (w, key) in enumerate(zip(weights, keys, strict=True))
        if j == 0 or key >= N_SPECIALS
    ]
    return sorted(out, key=lambda x: -x["weight"])
