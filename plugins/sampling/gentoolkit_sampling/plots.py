"""Trace, rank and pair plots of a run of chains as PNG files (arviz on matplotlib's Agg backend)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


def save_plots(idata: Any, names: list[str], out_dir: Path, max_params: int = 4) -> dict[str, Path]:
    """``trace.png``, ``rank.png`` and ``pair.png`` (divergences marked; not for one parameter) of the
    first ``max_params`` parameters in ``out_dir``; returns their paths by kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gentoolkit_sampling.diagnostics import arviz

    az = arviz()
    var_names = names[:max_params]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)  # arviz 0.23 on matplotlib 3.11
    plots = [
        ("trace", lambda: az.plot_trace(idata, var_names=var_names, compact=False)),
        ("rank", lambda: az.plot_rank(idata, var_names=var_names)),
        ("pair", lambda: az.plot_pair(idata, var_names=var_names, divergences=True, marginals=True,
                                      scatter_kwargs={"alpha": 0.3, "s": 4})),
    ]
    for kind, draw in plots[:3 if len(var_names) > 1 else 2]:  # a pair plot needs two parameters
        draw()
        paths[kind] = out_dir / f"{kind}.png"
        plt.gcf().savefig(paths[kind], dpi=80, bbox_inches="tight")
        plt.close("all")
    return paths


def save_image_grid(rows: dict[str, Any], path: Path, per_row: int = 16) -> Path:
    """One labelled row of ``per_row`` images (N, C, H, W) in [0, 1] per entry of ``rows``, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    fig, axes = plt.subplots(len(rows), 1, figsize=(per_row * 0.5, len(rows) * 0.75), squeeze=False)
    for ax, (label, images) in zip(axes[:, 0], rows.items()):
        strip = torch.cat(list(images[:per_row].detach().cpu().float()), dim=2)  # (C, H, N W)
        ax.imshow(strip.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(label, fontsize=8, loc="left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
