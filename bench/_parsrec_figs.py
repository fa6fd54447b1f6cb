"""PARSRec's Fig. 3 on the simulator: category-level attention per user group against the groups' category
covariance Sigma (the ground truth the model never sees).

Baskets are replayed with the teacher forcing of Eq. 2 (no gradient). At every step with items already in the
basket, the head-averaged attention weight on each basket item is added to cell (category of the step's target,
category of the attended item) of the user's group; cells are averaged over their observations, the diagonal
(a basket never holds two items of one category) is left out and rows are normalized to sum to 1. The agreement is
reported as the Pearson correlation of the off-diagonal cells with Sigma, per group and for the group difference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from models.basket_data import BasketData, collate, size_batches
from models.parsrec import PARSRec
from omniseq.data.sim.world import category_covariance


@torch.inference_mode()
def category_attention(
    model: PARSRec,
    data: BasketData,
    pairs: list[tuple[int, int]],
    group_of: np.ndarray,
    cat_of: np.ndarray,
    n_groups: int,
    n_cats: int,
    max_history: int,
) -> np.ndarray:
    """``[G, C, C]`` mean attention (row = target category, column = attended item's category)."""
    total = np.zeros((n_groups, n_cats, n_cats))
    count = np.zeros((n_groups, n_cats, n_cats))
    gen = torch.Generator().manual_seed(0)
    model.eval()
    for chunk in size_batches(data, pairs, 512, shuffle=False):
        batch = collate(data, chunk, max_history)
        users, basket = batch["users"], batch["basket"]
        g = group_of[users.numpy()]
        h = model.initial_state(batch["history"])
        fed = torch.full((len(chunk), 1), 1, dtype=torch.long)
        remaining = basket.clone()
        for j in range(basket.shape[1]):
            h, w = model.step(model.query(users, h), fed)
            target = PARSRec.pick_next(model.logits(h), remaining, gen)
            if j:
                wk = w.mean(1)[:, 1:].numpy()  # [B, j] weights on the fed items
                keys = cat_of[fed[:, 1:].numpy()]
                tc = cat_of[target.numpy()]
                for col in range(j):
                    np.add.at(total, (g, tc, keys[:, col]), wk[:, col])
                    np.add.at(count, (g, tc, keys[:, col]), 1.0)
            fed = torch.cat([fed, target.unsqueeze(1)], 1)
            remaining = remaining.masked_fill(remaining == target.unsqueeze(1), 0)
    att = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    for gi in range(n_groups):
        np.fill_diagonal(att[gi], 0.0)
    return att / np.clip(att.sum(2, keepdims=True), 1e-12, None)


def _offdiag(m: np.ndarray) -> np.ndarray:
    return m[~np.eye(m.shape[0], dtype=bool)]


def attention_figure(
    model: Any, data: BasketData, groups: dict[str, int], sim: Any, path: Path, max_pairs: int = 5000
) -> dict[str, Any]:
    """Compute the heatmaps, write the PNG to ``path`` and return the correlations (for the JSON)."""
    cfg = sim.cfg
    n_cats, n_groups = cfg.n_categories, cfg.n_groups
    cat_of = np.zeros(data.n_items, dtype=np.int64)
    for i, item in enumerate(data.vocab[2:], start=2):
        cat_of[i] = sim.world.category_of(item)
    group_of = np.array([groups.get(u, 0) for u in data.users], dtype=np.int64)
    train, _, test = data.split()
    rng = np.random.default_rng(0)
    pairs = [train[i] for i in rng.permutation(len(train))[:max_pairs]]
    att = category_attention(model.cpu(), data, pairs, group_of, cat_of, n_groups, n_cats, 1000)
    sigma = np.stack([category_covariance(cfg, g) for g in range(n_groups)])
    corr = {
        f"group_{g}": float(np.corrcoef(_offdiag(sigma[g]), _offdiag(att[g]))[0, 1]) for g in range(n_groups)
    }
    if n_groups >= 2:
        corr["difference_0_minus_1"] = float(
            np.corrcoef(_offdiag(sigma[0] - sigma[1]), _offdiag(att[0] - att[1]))[0, 1]
        )
    _plot(sigma, att, path)
    return {"png": str(path.name), "pearson_offdiag_sigma_vs_attention": corr, "baskets_replayed": len(pairs)}


def _plot(sigma: np.ndarray, att: np.ndarray, path: Path) -> None:
    panels = [
        ("Sigma, group A", sigma[0], "RdBu_r"),
        ("Sigma, group B", sigma[1], "RdBu_r"),
        ("Sigma A - B", sigma[0] - sigma[1], "RdBu_r"),
        ("attention, group A", att[0], "Reds"),
        ("attention, group B", att[1], "Reds"),
        ("attention A - B", att[0] - att[1], "RdBu_r"),
    ]
    fig = Figure(figsize=(15, 9.5))
    axes = fig.subplots(2, 3)
    for ax, (title, m, cmap) in zip(axes.flat, panels, strict=True):
        show = m.copy()
        np.fill_diagonal(show, np.nan) if "Sigma" in title else None
        lim = np.nanmax(np.abs(show)) or 1.0
        vmin = -lim if cmap == "RdBu_r" else 0.0
        im = ax.imshow(show, cmap=cmap, vmin=vmin, vmax=lim)
        ax.set_title(title)
        ax.set_xlabel("category (attended basket item)" if "attention" in title else "category")
        ax.set_ylabel("category (predicted item)" if "attention" in title else "category")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle("PARSRec Fig. 3 on the simulator: learned category attention vs the groups' covariance")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
