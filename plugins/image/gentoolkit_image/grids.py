"""What people look at: sample grids as PNG (Pillow) and learning curves (matplotlib, Agg)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor


def image_grid(images: Tensor, nrow: int | None = None, pad: int = 1) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> one uint8 image (rows, cols[, 3]) with ``pad`` grey pixels between."""
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    grid = np.full((ncol * (h + pad) + pad, nrow * (w + pad) + pad, c), 0.5, dtype=np.float32)
    array = images.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    for i, image in enumerate(array):
        r, col = divmod(i, nrow)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = image
    grid = (grid * 255).round().astype(np.uint8)
    return grid[..., 0] if c == 1 else grid


def save_grid(images: Tensor, path: str | Path, nrow: int | None = None, min_side: int = 256) -> Path:
    """Write a PNG grid of ``images``, enlarged with nearest-neighbour pixels to at least ``min_side``."""
    from PIL import Image

    grid = Image.fromarray(image_grid(images, nrow))
    scale = max(1, math.ceil(min_side / max(grid.size)))
    grid = grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST)
    path = Path(path)
    grid.save(path)
    return path


def save_learning_curve(history: list[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """One panel per loss in ``history`` (rows of {"epoch": e, loss: value, ...}) against epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(dict.fromkeys(k for row in history for k in row if k not in ("epoch", "seconds")))
    fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(3.2 * max(len(keys), 1), 2.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        points = [(row["epoch"], row[key]) for row in history if row.get(key) is not None]
        ax.plot(*zip(*points), marker="o", markersize=2)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
