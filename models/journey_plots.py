"""Floor-plan heatmaps: visits per region and purchases per zone, drawn on the store's grid (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from omniseq.data.sim.store_layout import StoreLayout


def region_grid(layout: StoreLayout, per_region: np.ndarray) -> np.ndarray:
    """Each walkable cell coloured by its region's share; shelves NaN."""
    share = per_region / max(float(per_region.sum()), 1e-12)
    grid = np.full(layout.shape, np.nan)
    walk = layout.region_of >= 0
    grid[walk] = share[layout.region_of[walk]]
    return grid


def zone_grid(layout: StoreLayout, per_zone: np.ndarray) -> np.ndarray:
    """Each zone's shelf cells coloured by its share of purchases; everything else NaN."""
    share = per_zone / max(float(per_zone.sum()), 1e-12)
    grid = np.full(layout.shape, np.nan)
    for z, zone in enumerate(layout.zones):
        for cell in zone.shelf:
            grid[cell] = share[z]
    return grid


def heatmap_png(
    layout: StoreLayout, panels: Sequence[tuple[str, np.ndarray]], path: str | Path, title: str
) -> Path:
    """One panel per ``(caption, grid)`` in a row; panels of the same kind share a colour scale per column pair."""
    n = len(panels)
    fig = Figure(figsize=(3.2 * n, 3.6))
    axes = fig.subplots(1, n, squeeze=False)
    vmax = [np.nanmax(g) if np.isfinite(g).any() else 1.0 for _, g in panels]
    for k, (ax, (caption, grid)) in enumerate(zip(axes[0], panels, strict=True)):
        pair_max = max(vmax[k - k % 2 : k - k % 2 + 2])
        ax.imshow(layout.shelf, cmap="Greys", alpha=0.35, interpolation="nearest")
        im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=pair_max, interpolation="nearest")
        ax.set_title(caption, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
