"""Class coverage: how a classifier spreads generated images over the classes, which shows mode
collapse (a GAN that draws few digits covers few classes, with one class taking a large share)."""

from __future__ import annotations

import numpy as np


def class_coverage(predictions: np.ndarray, num_classes: int) -> dict[str, float]:
    """Share of classes predicted at least once, entropy of the predicted class histogram relative
    to the uniform one's (1 = balanced), and the largest class's share."""
    counts = np.bincount(np.asarray(predictions, dtype=np.int64), minlength=num_classes)[:num_classes]
    share = counts / max(counts.sum(), 1)
    nonzero = share[share > 0]
    entropy = float(-(nonzero * np.log(nonzero)).sum() / np.log(num_classes)) + 0.0  # no -0.0
    return {"coverage": float((counts > 0).mean()), "class_entropy": entropy, "max_class_share": float(share.max())}
