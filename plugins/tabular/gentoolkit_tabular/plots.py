"""Real against synthetic: marginal histograms and a pair scatter plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gentoolkit_tabular.data import Table


def marginals(real: Table, samples: dict[str, Table], path: Path, n_columns: int = 4) -> Path:
    """Top row: histograms of the first ``n_columns`` columns, real and each model's samples; bottom
    row: the most correlated pair of numeric columns as scatter plots, real then each model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = list(range(min(n_columns, len(real.columns))))
    panels = max(len(columns), 1 + len(samples))
    fig, axes = plt.subplots(2, panels, figsize=(3.2 * panels, 6.0), squeeze=False)
    for ax, j in zip(axes[0], columns):
        bins = np.histogram_bin_edges(real.features[:, j], bins=20)
        ax.hist(real.features[:, j], bins=bins, density=True, alpha=0.5, label="real")
        for label, table in samples.items():
            ax.hist(table.features[:, j], bins=bins, density=True, histtype="step", linewidth=1.5, label=label)
        ax.set_title(real.columns[j].name, fontsize=9)
    axes[0][0].legend(fontsize=8)
    a, b = _most_correlated(real)
    for ax, (label, table) in zip(axes[1], [("real", real), *samples.items()]):
        for k, name in enumerate(real.classes):
            rows = table.labels == k
            ax.scatter(table.features[rows, a], table.features[rows, b], s=6, alpha=0.6, label=name)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(real.columns[a].name, fontsize=8)
        ax.set_ylabel(real.columns[b].name, fontsize=8)
    axes[1][0].legend(fontsize=7, markerscale=2)
    for ax in [*axes[0][len(columns):], *axes[1][1 + len(samples):]]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _most_correlated(table: Table) -> tuple[int, int]:
    """The pair of numeric columns with the largest |Pearson r| below 0.95 (not near-copies), else the first two."""
    numeric = table.numeric
    if len(numeric) < 2:
        return 0, min(1, len(table.columns) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.abs(np.nan_to_num(np.corrcoef(table.features[:, numeric].T)))
    r[(r >= 0.95) | np.eye(len(numeric), dtype=bool)] = 0
    i, j = np.unravel_index(np.argmax(r), r.shape)
    return numeric[i], numeric[j]
