"""Shared fixtures: a toolkit with only the augmentation and image plugins, and a tiny image folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sklearn.linear_model  # noqa: F401  (loads scipy's OpenBLAS and scikit-learn's OpenMP, limited below)
import torch
from threadpoolctl import threadpool_limits

torch.set_num_threads(1)
threadpool_limits(1)  # BLAS and OpenMP too: spinning threads make each small logistic regression ~20x slower here



@pytest.fixture(scope="session")
def kit():
    import gentoolkit_augmentation
    import gentoolkit_image
    from gentoolkit import Toolkit

    return Toolkit(plugins=[gentoolkit_augmentation, gentoolkit_image], entrypoints=False)


@pytest.fixture
def tiny() -> dict:
    """Overrides for a tiny augmentation run: 3 images per class, a few generator epochs, one ratio."""
    return {"per_class": [3], "generator.epochs": 3, "generator.params": {"width": 8, "latent_dim": 4}, "sample.k": 2, "ratios": [1.0],
            "classical.k": 1, "unlabelled.use": False}  # the pool's rows have their own test


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """Three classes of six 8x8 digit PNGs, one subfolder per class."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = tmp_path / "images"
    for c in range(3):
        (root / f"digit{c}").mkdir(parents=True)
        for i, j in enumerate(np.flatnonzero(digits.target == c)[:6]):
            Image.fromarray((digits.images[j] * 255 / 16).astype(np.uint8)).save(root / f"digit{c}" / f"{i}.png")
    return root
