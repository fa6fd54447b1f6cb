"""Self-describing checkpoints and TorchScript export (the model I/O contract of docs/ARCHITECTURE.md).

A checkpoint is one ``torch.save`` dict: ``model_name``, ``config`` (:class:`~models.base.ModelConfig` as a dict),
``input_spec``, ``vocab`` (raw ids in index order) and ``state_dict`` -- enough to rebuild the model anywhere.
The exported module is ``forward(tokens [B, L], baskets [B, L, M]) -> scores [B, V]`` (specials -inf). Models with
a user representation also export ``user_repr(tokens, baskets) -> [B, d]`` and ``item_embeddings() -> [V, d]`` with
``forward == user_repr @ item_embeddings.T`` (specials -inf): serving caches the representation, scores the
catalogue itself and retrieves from an ANN index over the item embeddings (``models.ann``). A
:class:`models.lens.LENS` (the ``next_basket`` family) is exported as itself: ``forward(baskets [B, T, M],
feats [B, T, F], users [B]) -> (decoded items, their probabilities, first-step ranking, days to next purchase)``.
A basket-completion model (:class:`~models.parsrec.PARSRec`) exports ``forward(users [B], history [B, H],
basket [B, M]) -> (scores [B, V], attention [B, M + 1], keys [B, M + 1])``.
A cross-channel model (:class:`~models.c2rec.C2Rec`) is exported for one channel (``channel="store"``/
``"online"``): the same contract, the scores of that channel.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from models.base import SequentialRecommender
from models.c2rec import channel_index
from models.inputs import InputSpec
from models.parsrec import PARSRec


def save_checkpoint(
    path: str | Path, model: SequentialRecommender, vocab: list[str], spec: InputSpec
) -> None:
    if len(vocab) != model.n_items:
        raise ValueError(f"vocabulary has {len(vocab)} entries but the model scores {model.n_items}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(
        {
            "model_name": model.config.name,
            "config": model.config.to_dict(),
            "input_spec": spec.to_dict(),
            "vocab": list(vocab),
            "state_dict": state,
        },
        str(path),
    )


class _Scorer(nn.Module):
    """What is exported: ``score_all`` as ``forward``, always in eval mode."""

    def __init__(self, model: SequentialRecommender) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        return self.model.score_all(tokens, baskets)


class _ChannelScorer(nn.Module):
    """A cross-channel model's scores in one channel as ``forward``."""

    def __init__(self, model: SequentialRecommender, channel: int) -> None:
        super().__init__()
        self.model = model
        self.channel = channel

    def forward(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        return self.model.channel_scores(tokens, baskets, self.channel)  # type: ignore[operator]


class _RetrievalScorer(_Scorer):
    """``_Scorer`` plus the two halves of its dot product, for serving's cache and retrieval stage."""

    def __init__(self, model: SequentialRecommender) -> None:
        super().__init__(model)
        self.items: nn.Embedding = model.embed.items  # type: ignore[assignment,union-attr]  # shared
        self.n_items = model.n_items

    @torch.jit.export
    def user_repr(self, tokens: Tensor, baskets: Tensor) -> Tensor:
        return self.model.user_repr(tokens, baskets)

    @torch.jit.export
    def item_embeddings(self) -> Tensor:
        return self.items.weight[: self.n_items]


RETRIEVAL_METHODS = ("user_repr", "item_embeddings")


def _has_retrieval_halves(model: SequentialRecommender) -> bool:
    own = type(model).user_repr is not SequentialRecommender.user_repr
    return own and isinstance(getattr(getattr(model, "embed", None), "items", None), nn.Embedding)


class _BasketScorer(nn.Module):
    """What is exported for basket completion: scores, head-averaged attention and the keys it refers to."""

    def __init__(self, model: PARSRec) -> None:
        super().__init__()
        self.model = model

    def forward(self, users: Tensor, history: Tensor, basket: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.model(users, history, basket)


def _exported_module(model: nn.Module, channel: str | None = None) -> nn.Module:
    """What is scripted for ``model``: a scorer for a next-item recommender (one channel's scores for a
    cross-channel model), PARSRec's basket scorer, and any other scriptable module that defines its own serving
    forward (LENS, the journey generators of :mod:`models.journey_gpt` with their exported ``step``) as it is."""
    if channel is not None:
        if not hasattr(model, "channel_scores"):
            raise ValueError(f"model {type(model).__name__} has no channels; export it without channel=")
        return _ChannelScorer(model, channel_index(channel))  # type: ignore[arg-type]
    if isinstance(model, PARSRec):
        return _BasketScorer(model)
    if not isinstance(model, SequentialRecommender):
        return model
    return (_RetrievalScorer if _has_retrieval_halves(model) else _Scorer)(model)


def export_torchscript(
    model: nn.Module, path: str | Path | None = None, channel: str | None = None
) -> torch.jit.ScriptModule:
    """Script ``model`` (a CPU copy, eval mode) and save it to ``path`` when given; returns the scripted module.
    ``channel`` (cross-channel models only) picks the channel whose scores ``forward`` returns."""
    model = model.eval()
    params = list(model.parameters()) + list(model.buffers())
    if params and params[0].device.type != "cpu":
        raise ValueError("export a CPU model (call model.cpu() first)")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*TorchScript.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*torch.jit.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        scripted = torch.jit.script(_exported_module(model, channel).eval())
        if path is not None:
            torch.jit.save(scripted, str(path))
    return scripted


def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        return torch.jit.load(str(path), map_location="cpu").eval()
