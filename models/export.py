"""Self-describing checkpoints and TorchScript export (the model I/O contract of docs/ARCHITECTURE.md).

A checkpoint is one ``torch.save`` dict: ``model_name``, ``config`` (:class:`~models.base.ModelConfig` as a dict),
``input_spec``, ``vocab`` (raw ids in index order) and ``state_dict`` -- enough to rebuild the model anywhere.
The exported module is ``forward(tokens [B, L], baskets [B, L, M]) -> scores [B, V]`` (specials -inf). A
cross-channel model (:class:`~models.c2rec.C2Rec`) is exported for one channel (``channel="store"``/``"online"``):
the same contract, the scores of that channel.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from models.base import ModelConfig, SequentialRecommender
from models.inputs import InputSpec
from models.zoo import build_model


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


def load_checkpoint(path: str | Path) -> tuple[SequentialRecommender, list[str], InputSpec]:
    raw: dict[str, Any] = torch.load(str(path), map_location="cpu", weights_only=True)
    for key in ("model_name", "config", "input_spec", "vocab", "state_dict"):
        if key not in raw:
            raise ValueError(f"{path}: not an omniseq checkpoint (missing {key!r})")
    model = build_model(ModelConfig.from_dict(raw["config"]))
    model.load_state_dict(raw["state_dict"])
    return model.eval(), list(raw["vocab"]), InputSpec.from_dict(raw["input_spec"])


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


def export_torchscript(
    model: SequentialRecommender, path: str | Path | None = None, channel: str | None = None
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
        scripted = torch.jit.script(_scorer(model, channel).eval())
        if path is not None:
            torch.jit.save(scripted, str(path))
    return scripted


def _scorer(model: SequentialRecommender, channel: str | None) -> nn.Module:
    if channel is None:
        return _Scorer(model)
    from models.c2rec import channel_index

    if not hasattr(model, "channel_scores"):
        raise ValueError(f"model {model.config.name!r} has no channels; export it without channel=")
    return _ChannelScorer(model, channel_index(channel))


def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        return torch.jit.load(str(path), map_location="cpu").eval()
