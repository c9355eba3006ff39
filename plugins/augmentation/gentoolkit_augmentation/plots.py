"""The run's pictures: real vs generated vs kept vs rejected samples per class, accuracy against
the synthetic ratio, and index.html tying them to the tables."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

ROWS = 8  # images per row of a sample grid


def sample_grids(samples: Any, classes: list[str], folder: Path, prefix: str) -> list[Path]:
    """One PNG per class: rows of real budget images, generated samples, those the filter kept
    and those it rejected (the first seed); with an unlabelled pool, its generator's samples and
    those its filter kept too."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for c, name in enumerate(classes):
        mine = samples.fake_y == c
        rows = {"real": samples.real_x[samples.real_y == c], "generated": samples.fake_x[mine],
                "kept": samples.fake_x[mine & samples.keep], "rejected": samples.fake_x[mine & ~samples.keep]}
        if samples.pool is not None:
            pool_x, pool_y, pool_keep = samples.pool
            rows |= {"pool samples": pool_x[pool_y == c], "pool kept": pool_x[(pool_y == c) & pool_keep]}
        fig, ax = plt.subplots(figsize=(ROWS * 0.7, len(rows) * 0.8))
        grid = _tile(list(rows.values()), samples.real_x.shape[1:])
        ax.imshow(grid, cmap="gray_r" if grid.ndim == 2 else None, vmin=0, vmax=1)
        height = samples.real_x.shape[-2] + 1
        ax.set_yticks([height * (r + 0.5) for r in range(len(rows))],
                      [f"{label} ({len(images)})" for label, images in rows.items()], fontsize=7)
        ax.set_xticks([])
        fig.suptitle(f"class {name}, {prefix.replace('pc', ' per class')}", fontsize=9)
        path = folder / f"{prefix}_class_{_safe(name)}.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    return paths


def ratio_plot(curves: dict[int, dict[str, dict[float, list[float]]]], experiments: dict[int, Any],
               path: Path) -> Path:
    """Test accuracy (mean ± SD over seeds) against synthetic images per real image, per budget,
    with real only and classical as horizontal bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gentoolkit_augmentation.report import CLASSICAL, REAL

    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.6), squeeze=False)
    for ax, (per_class, by_method) in zip(axes[0], curves.items()):
        experiment = experiments[per_class]
        for method, by_ratio in by_method.items():
            ratios = sorted(by_ratio)
            mean = np.array([np.mean(by_ratio[r]) for r in ratios])
            sd = np.array([np.std(by_ratio[r], ddof=1) for r in ratios])
            ax.errorbar(ratios, mean, yerr=sd, marker="o", capsize=3, label=method)
        for method, colour in ((REAL, "grey"), (CLASSICAL, "tab:green")):
            if method in experiment.scores:
                m, s = experiment.mean_sd(method)
                ax.axhline(m, color=colour, lw=1, label=method)
                ax.axhspan(m - s, m + s, color=colour, alpha=0.15)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("synthetic images per real image")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{per_class} real images per class")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def index_html(folder: Path, experiments: list[Any], config: dict[str, Any]) -> Path:
    """index.html: every table (mean ± SD, gains), the ratio plot and the sample grids."""
    parts = ["<!doctype html><meta charset='utf-8'><title>augmentation</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}"
             ".gain{color:green;font-weight:bold}.loss{color:#b00}</style>",
             f"<h1>Generative augmentation: {html.escape(config['dataset'])}</h1>",
             f"<p>Generator {html.escape(config['generator']['model'])}; every method scored by the same logistic "
             "regression on the held-out real test split, on the same seeds. A gain (green) is claimed only when "
             "the difference of means exceeds the larger of the two SDs.</p>"]
    for experiment in experiments:
        parts.append(_table_html(experiment))
    parts.append("<h2>Accuracy against the synthetic ratio</h2><img src='ratio.png' style='max-width:100%'>")
    parts.append("<h2>Samples (first seed): real, generated, kept and rejected by the filter</h2>")
    for png in sorted((folder / "samples").glob("*.png")):
        parts.append(f"<img src='samples/{html.escape(png.name)}' style='width:32%'>")
    path = folder / "index.html"
    path.write_text("\n".join(parts) + "\n")
    return path


def _table_html(experiment: Any) -> str:
    rows = [f"<h2>{html.escape(experiment.name)}</h2><table><tr><th>method</th><th>{experiment.metric}</th>"
            + "".join(f"<th>vs {html.escape(b)}</th>" for b in experiment.baselines()) + "</tr>"]
    for method, mean, sd, gains in experiment.rows():
        cells = ["<td></td>" if g is None else
                 f"<td class='{'gain' if g.significant else 'loss' if g.loss else ''}'>{g.difference:+.3f}</td>"
                 for g in gains]
        rows.append(f"<tr><td>{html.escape(method)}</td><td>{mean:.3f} ± {sd:.3f}</td>{''.join(cells)}</tr>")
    return "".join(rows) + "</table>"


def _tile(rows: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """Rows of up to ``ROWS`` images (C, H, W) as one picture, one pixel apart; blank where a row is short."""
    channels, height, width = shape
    grid = np.zeros((len(rows) * (height + 1), ROWS * (width + 1), channels), dtype=np.float32)
    for r, images in enumerate(rows):
        for i, image in enumerate(images[:ROWS]):
            top, left = r * (height + 1), i * (width + 1)
            grid[top:top + height, left:left + width] = np.transpose(image, (1, 2, 0))
    return grid[..., 0] if channels == 1 else grid


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
