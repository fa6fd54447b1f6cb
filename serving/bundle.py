"""The next-item family's loaded model: :class:`ModelBundle` and :func:`load_bundle`.

A :class:`ModelBundle` is everything one model version needs to answer a request (TorchScript module, vocabulary,
input spec, feature view names, popularity fallback, catalogue scorer). It is immutable. :func:`load_bundle` loads
a registered version and checks it *before* it can serve: a forward pass on a dummy batch through the real encoder
(output shape [B, V], finite item scores), an inference-optimised copy only when it gives the same scores, warm-up
at serving shape, and for a module with ``user_repr``/``item_embeddings`` the two halves against the forward pass.
:class:`ModelLoadError` is what every family's loader raises for a version that cannot serve.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from feature_repo.views import BASKET_CODE
from models.ann import load_item_index
from models.export import RETRIEVAL_METHODS, load_torchscript
from models.inputs import N_SPECIALS, InputSpec, encode_sequence, vocab_index
from models.registry import ModelVersion
from omniseq.features.sequence import HybridSequence, Token
from serving.fallback import popularity_scores
from serving.scoring import ItemScorer

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """A model version could not be loaded or failed its smoke check."""


@dataclass(frozen=True, eq=False)
class ModelBundle:
    version: str
    model_name: str
    manifest: Mapping[str, Any]
    module: torch.jit.ScriptModule
    vocab: list[str]
    index: dict[str, int]
    spec: InputSpec
    sequence_view: str
    feature_versions: dict[str, str]
    popularity: torch.Tensor  # [V], specials -inf
    popularity_source: str
    scorer: ItemScorer | None = None  # models exporting user_repr/item_embeddings: cache + retrieval

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)


def _spec_from_manifest(manifest: Mapping[str, Any], where: str) -> InputSpec:
    raw = manifest.get("input_spec")
    if not isinstance(raw, Mapping):
        raise ModelLoadError(f"{where}: manifest has no input_spec mapping")
    try:
        return InputSpec.from_dict(raw)
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{where}: bad input_spec {dict(raw)}: {exc}") from exc


def _sequence_view(manifest: Mapping[str, Any], where: str) -> tuple[str, dict[str, str]]:
    fv = manifest.get("feature_versions")
    if not isinstance(fv, Mapping) or not isinstance(fv.get("sequence"), str):
        raise ModelLoadError(f"{where}: manifest feature_versions has no 'sequence' view name")
    return fv["sequence"], {str(k): str(v) for k, v in fv.items()}


def dummy_batch(
    bundle_vocab: list[str], index: dict[str, int], spec: InputSpec, batch: int
) -> tuple[Any, Any]:
    """A batch of ``batch`` synthetic histories (items of the vocabulary plus one basket) through the real
    encoder: what the smoke check runs."""
    items = bundle_vocab[N_SPECIALS:]
    rows_t, rows_b = [], []
    for b in range(batch):
        n = max(1, min(len(items), spec.max_len) - b)
        tokens = [Token(b % 4, 1_700_000_000_000 + i, items[(i + b) % len(items)]) for i in range(n)]
        tokens.insert(0, Token(BASKET_CODE, 1_699_999_999_000, "", tuple(items[:3]), "store-0"))
        seq = HybridSequence(f"smoke-{b}", spec.max_len, tokens[-spec.max_len :])
        t, bk = encode_sequence(seq, index, spec)
        rows_t.append(t)
        rows_b.append(bk)
    return torch.stack(rows_t), torch.stack(rows_b)


def smoke_check(module: Any, vocab: list[str], index: dict[str, int], spec: InputSpec, batch: int) -> None:
    """Run a forward pass on a dummy batch; raise :class:`ModelLoadError` unless scores are [B, V] and finite."""
    tokens, baskets = dummy_batch(vocab, index, spec, batch)
    with torch.inference_mode():
        out = module(tokens, baskets)
    if not isinstance(out, torch.Tensor):
        raise ModelLoadError(f"smoke check: forward returned {type(out).__name__}, expected a Tensor")
    if tuple(out.shape) != (batch, len(vocab)):
        raise ModelLoadError(
            f"smoke check: scores have shape {tuple(out.shape)}, expected {(batch, len(vocab))}"
        )
    if not out.is_floating_point() or not bool(torch.isfinite(out[:, N_SPECIALS:]).all()):
        raise ModelLoadError("smoke check: item scores are not all finite floats")


def _optimized(module: Any, vocab: list[str], index: dict[str, int], spec: InputSpec) -> Any:
    """Frozen + inference-optimised copy of the module when that works and gives the same scores; else the module."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            keep = [m for m in RETRIEVAL_METHODS if hasattr(module, m)]
            frozen = torch.jit.freeze(module.eval(), preserved_attrs=keep)
            opt = torch.jit.optimize_for_inference(frozen, other_methods=keep)
        tokens, baskets = dummy_batch(vocab, index, spec, 1)
        with torch.inference_mode():
            same = torch.allclose(
                module(tokens, baskets), opt(tokens, baskets), rtol=1e-4, atol=1e-4, equal_nan=True
            )
        return opt if same else module
    except Exception as exc:  # an unoptimisable module still serves, unoptimised
        log.info("model not optimised for inference (%s); serving it as exported", exc)
        return module


def load_bundle(mv: ModelVersion, smoke_batch: int = 2, optimize: bool = True) -> ModelBundle:
    """Load one registered version and smoke-check it; raises :class:`ModelLoadError` saying what is wrong."""
    where = f"model version {mv.version}"
    manifest = dict(mv.manifest)
    spec = _spec_from_manifest(manifest, where)
    view, feature_versions = _sequence_view(manifest, where)
    try:
        vocab = [str(v) for v in mv.vocab()]
        module = load_torchscript(mv.model_path)
    except Exception as exc:  # torch raises RuntimeError/ValueError/... for a corrupt archive
        raise ModelLoadError(f"{where}: cannot load {Path(mv.model_path).name}: {exc}") from exc
    if len(vocab) <= N_SPECIALS:
        raise ModelLoadError(f"{where}: vocabulary has {len(vocab)} entries, no items")
    try:
        index = vocab_index(vocab)
        smoke_check(module, vocab, index, spec, smoke_batch)
        if optimize:
            module = _optimized(module, vocab, index, spec)
        smoke_check(module, vocab, index, spec, 1)  # warms up the profiling executor at serving shape
        smoke_check(module, vocab, index, spec, 1)
        popularity, source = popularity_scores(Path(mv.path), index, len(vocab))
        scorer = make_scorer(module, Path(mv.path), vocab, index, spec)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{where}: {exc}") from exc
    except Exception as exc:
        raise ModelLoadError(f"{where}: smoke check failed: {type(exc).__name__}: {exc}") from exc
    return ModelBundle(
        version=str(mv.version),
        model_name=str(manifest.get("model_name", "unknown")),
        manifest=manifest,
        module=module,
        vocab=vocab,
        index=index,
        spec=spec,
        sequence_view=view,
        feature_versions=feature_versions,
        popularity=popularity,
        popularity_source=source,
        scorer=scorer,
    )


def make_scorer(
    module: Any, folder: Path, vocab: list[str], index: dict[str, int], spec: InputSpec
) -> ItemScorer | None:
    """The catalogue scorer of a module that exports ``user_repr``/``item_embeddings`` (None for one that does
    not), with the version's ANN index when it has one. Checked like the module: the two halves must give the
    forward pass's scores on the dummy batch."""
    if not all(hasattr(module, m) for m in RETRIEVAL_METHODS):
        return None
    scorer = ItemScorer.build(module, None)
    if scorer.items.shape[0] != len(vocab):
        raise ModelLoadError(f"item_embeddings has {scorer.items.shape[0]} rows, the vocabulary {len(vocab)}")
    tokens, baskets = dummy_batch(vocab, index, spec, 1)
    with torch.inference_mode():
        full = module(tokens, baskets)[0, N_SPECIALS:]
        halves = (scorer.represent(module, tokens[0], baskets[0]) @ scorer.items.t())[N_SPECIALS:]
    if not torch.allclose(full.float(), halves, rtol=1e-4, atol=1e-4):
        raise ModelLoadError("smoke check: user_repr @ item_embeddings differs from the forward pass")
    ann = load_item_index(folder, len(vocab), scorer.items.shape[1])
    return scorer if ann is None else ItemScorer(scorer.items, None, ann)
