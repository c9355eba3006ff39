"""The run's pictures: score histograms of normal and anomalous items, and the test images a
detector finds most and least anomalous."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def score_histograms(scores: Mapping[str, np.ndarray], anomalous: np.ndarray, path: Path, title: str) -> Path:
    """One panel per detector: histograms of its scores on normal and on anomalous items."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(scores), figsize=(3.2 * len(scores), 2.8), squeeze=False)
    for ax, (label, values) in zip(axes[0], scores.items()):
        bins = np.histogram_bin_edges(values, bins=40)
        ax.hist(values[~anomalous], bins=bins, alpha=0.6, density=True, label="normal")
        ax.hist(values[anomalous], bins=bins, alpha=0.6, density=True, label="anomalous")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("anomaly score", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def extremes_grid(images: np.ndarray, scores: np.ndarray, anomalous: np.ndarray, path: Path, title: str,
                  n: int = 16) -> Path:
    """Two rows of ``n`` images (N, C, H, W) in [0, 1]: the most anomalous (top) and the least
    anomalous (bottom) by score; anomalies (by label) framed in red, normal items in green."""
    plt = _pyplot()
    order = np.argsort(scores)
    rows = [("most anomalous", order[::-1][:n]), ("least anomalous", order[:n])]
    fig, axes = plt.subplots(2, n, figsize=(0.8 * n, 2.2), squeeze=False)
    for row, (name, picks) in enumerate(rows):
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(picks):
                ax.axis("off")
                continue
            image = images[picks[col]]
            ax.imshow(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0), cmap="gray", vmin=0, vmax=1)
            for spine in ax.spines.values():
                spine.set_color("red" if anomalous[picks[col]] else "green")
                spine.set_linewidth(2)
        axes[row][0].set_ylabel(name.replace(" ", "\n"), fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def extremes_table(scores: np.ndarray, anomalous: np.ndarray, path: Path, n: int = 16, items: list | None = None,
                   tokens: list | None = None) -> Path:
    """The ``n`` most and least anomalous test items as CSV: rank, row, score, label, and for strings
    the item and its most surprising tokens (``token@position nats``)."""
    import csv

    order = np.argsort(scores)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["extreme", "rank", "test_row", "score", "anomaly"] + (["item", "surprising_tokens"]
                                                                               if items is not None else []))
        for name, picks in (("most anomalous", order[::-1][:n]), ("least anomalous", order[:n])):
            for rank, i in enumerate(picks):
                extra = [items[i], format_tokens(tokens[i]) if tokens else ""] if items is not None else []
                writer.writerow([name, rank, int(i), float(scores[i]), int(anomalous[i]), *extra])
    return path


def format_tokens(tokens: list[tuple[int, str, float]]) -> str:
    """``[(position, token, nats), ...]`` as ``"Cl@12 4.1, ..."``."""
    return ", ".join(f"{token.strip() or repr(token)}@{position} {nats:.2f}" for position, token, nats in tokens)
