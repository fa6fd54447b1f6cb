"""C2Rec attention analysis: which users lean on the shared and which on the channel-specific components."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from models import channels as ch
from models.c2rec import COMPONENTS, C2Rec
from models.inputs import BASKET, PAD, InputSpec

#: users grouped by the store share of their input history (basket tokens / all tokens)
GROUPS = ("online only", "mostly online", "mostly store", "store only")


def group_masks(share: torch.Tensor) -> dict[str, torch.Tensor]:
    """Disjoint masks: share 0, (0, 0.5], (0.5, 1), 1."""
    return {
        "online only": share == 0,
        "mostly online": (share > 0) & (share <= 0.5),
        "mostly store": (share > 0.5) & (share < 1),
        "store only": share == 1,
    }


@torch.inference_mode()
def attention_summary(
    sp: ch.ChannelSplit, model: ch.ChannelView, channel: str, spec: InputSpec
) -> dict[str, Any]:
    """Mean attention (shared, store, online) on each test user's target item in ``channel``, per user group."""
    inner = model.inner
    assert isinstance(inner, C2Rec)
    inner.eval()
    test, _ = ch.eval_set(sp, "attn", channel, "test", spec)
    weights = []
    for lo in range(0, len(test), 256):
        t, b = test.tokens[lo : lo + 256], test.baskets[lo : lo + 256]
        a = inner.attention(t, b, test.targets[lo : lo + 256].unsqueeze(1), ch.CHANNELS.index(channel))
        weights.append(a[:, :, 0])
    a = torch.cat(weights)  # [N, 3]
    real = (test.tokens != PAD).sum(1).clamp(min=1)
    share = (test.tokens == BASKET).sum(1).double() / real.double()
    groups = {}
    for label, mask in group_masks(share).items():
        if bool(mask.any()):
            groups[label] = {
                "users": int(mask.sum()),
                **{c: round(float(a[mask, k].mean()), 4) for k, c in enumerate(COMPONENTS)},
            }
    overall = {c: round(float(a[:, k].mean()), 4) for k, c in enumerate(COMPONENTS)}
    return {"channel": channel, "users": len(test), "overall": overall, "groups": groups}


def plot_attention(attention: dict[str, Any], path: Path, title: str) -> None:
    """Stacked bars of mean attention per component, per user group, one panel per level and channel."""
    panels = [(k, v) for k, v in attention.items() if "/" in k]
    if not panels:
        return
    fig = Figure(figsize=(3.6 * len(panels), 3.4))
    axes = fig.subplots(1, len(panels), squeeze=False)
    colours = {"shared": "#4c72b0", "store": "#dd8452", "online": "#55a868"}
    for ax, (key, summary) in zip(axes[0], panels, strict=True):
        labels = list(summary["groups"])
        bottom = [0.0] * len(labels)
        for comp, colour in colours.items():
            vals = [summary["groups"][g][comp] for g in labels]
            ax.bar(range(len(labels)), vals, bottom=bottom, color=colour, label=comp)
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels([f"{g}\n(n={summary['groups'][g]['users']})" for g in labels], fontsize=7)
        ax.set(ylim=(0, 1), title=f"{key} channel", ylabel="mean attention on the target")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{title}: C2Rec component attention by users' store share of history", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
