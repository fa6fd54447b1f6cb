"""The ``next_basket`` family (LENS): loading a registered version and answering one user.

The user's basket history comes from the online store's hybrid sequence view (``user_hybrid_seq_v2`` unless the
manifest names another): its in-store basket tokens with their timestamps and stores, through the same
:func:`models.lens_data.session_features` as training. Amounts and quantities are not in that view, so those two
features are 0 at serving time (they are 0 in training on data without them, e.g. Ta-Feng).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from models.export import load_torchscript
from models.lens import N_LENS_SPECIALS
from models.lens_data import BasketHistory, Instance, LensVocab, collate, from_sequence, make_instance
from models.lens_registry import USERS_FILE
from models.registry import ModelVersion
from omniseq.features.sequence import HybridSequence
from serving.bundle import ModelLoadError
from serving.settings import ServingSettings


@dataclass(frozen=True, eq=False)
class NextBasketBundle:
    version: str
    model_name: str
    module: Any  # torch.jit.ScriptModule
    vocab: LensVocab
    sequence_view: str
    feature_versions: dict[str, str]
    max_baskets: int
    max_basket_size: int
    interval: tuple[float, float]

    def instance(self, history: BasketHistory) -> Instance:
        return make_instance(
            history, self.vocab, len(history), None, None, self.max_baskets, self.max_basket_size
        )


@dataclass(frozen=True)
class NextBasket:
    items: list[tuple[str, float]]
    days: float
    interval: tuple[float, float]
    known_user: bool
    n_baskets: int


def predict_next_basket(bundle: NextBasketBundle, history: BasketHistory, k: int) -> NextBasket:
    """Greedy decoded basket (at most ``k`` items, probabilities of each decoding step) and days to the next
    purchase with the manifest's residual interval (clipped at 0)."""
    batch = collate([bundle.instance(history)], 1)
    with torch.inference_mode():
        items, probs, _, days = bundle.module(batch["baskets"], batch["feats"], batch["users"])
    pairs = [
        (bundle.vocab.items[i], float(p))
        for i, p in zip(items[0].tolist(), probs[0].tolist(), strict=True)
        if i >= N_LENS_SPECIALS
    ][:k]
    d = float(days[0])
    lo, hi = bundle.interval
    return NextBasket(
        pairs,
        d,
        (max(0.0, d + lo), max(0.0, d + hi)),
        history.user_id in bundle.vocab.user_index,
        len(history),
    )


def _manifest_field(manifest: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    raw = manifest.get(key)
    if not isinstance(raw, Mapping):
        raise ModelLoadError(f"{where}: manifest has no {key!r} mapping")
    return raw


def load_next_basket(mv: ModelVersion) -> NextBasketBundle:
    """Load one ``next_basket`` version and smoke-check it on a small synthetic history."""
    where = f"model version {mv.version}"
    manifest = dict(mv.manifest)
    spec = _manifest_field(manifest, "input_spec", where)
    fv = _manifest_field(manifest, "feature_versions", where)
    interval = _manifest_field(manifest, "time_interval_days", where)
    try:
        items = [str(v) for v in mv.vocab()]
        users = [str(u) for u in json.loads((mv.path / USERS_FILE).read_text())]
        module = load_torchscript(mv.model_path)
        bundle = NextBasketBundle(
            version=mv.version,
            model_name=str(manifest.get("model_name", "lens")),
            module=module,
            vocab=LensVocab(items, users),
            sequence_view=str(fv["sequence"]),
            feature_versions={str(k): str(v) for k, v in fv.items()},
            max_baskets=int(spec["max_baskets"]),
            max_basket_size=int(spec["max_basket_size"]),
            interval=(float(interval["low"]), float(interval["high"])),
        )
    except Exception as exc:  # a missing file, a corrupt archive or a malformed manifest
        raise ModelLoadError(f"{where}: cannot load: {type(exc).__name__}: {exc}") from exc
    _smoke(bundle, where)
    return bundle


def _smoke(bundle: NextBasketBundle, where: str) -> None:
    known = bundle.vocab.items[N_LENS_SPECIALS : N_LENS_SPECIALS + 3]
    day = 86_400_000
    h = BasketHistory("smoke", [known, known[:1]], [1_700_000_000_000, 1_700_000_000_000 + day])
    try:
        out = predict_next_basket(bundle, h, 5)
    except Exception as exc:
        raise ModelLoadError(f"{where}: smoke check failed: {type(exc).__name__}: {exc}") from exc
    if not math.isfinite(out.days) or not all(0.0 <= p <= 1.0 for _, p in out.items):
        raise ModelLoadError(f"{where}: smoke check: non-finite days or probabilities outside [0, 1]")


def history_from_row(user_id: str, row: Mapping[str, Any] | None) -> BasketHistory:
    """The basket history in one online-store row of the hybrid sequence view (empty when there is no row)."""
    if row is None or not row.get("seq_len"):
        return BasketHistory(user_id, [], [])
    return from_sequence(HybridSequence.from_features(user_id, row))


def make_loader(settings: ServingSettings) -> Callable[[ModelVersion], NextBasketBundle]:
    del settings  # nothing tunable yet
    return load_next_basket
