"""Classical image augmentation with kornia: small random affine warps and elastic deformation.

The baseline a generative method must beat: ``k`` warped copies of every real image, each with
a random rotation, sub-pixel shift and scale, then (with probability ``elastic``) a smooth
elastic deformation.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def augment(x: np.ndarray, y: np.ndarray, seed: int, k: int = 5, degrees: float = 10.0, translate: float = 0.0625,
            scale: float = 0.05, elastic: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """``k`` augmented copies of images ``x`` (N, C, H, W) in [0, 1], with their labels."""
    import kornia.augmentation as K
    import torch

    steps: list[Any] = [K.RandomAffine(degrees=degrees, translate=(translate, translate),
                                       scale=(1 - scale, 1 + scale), p=1.0)]
    if elastic > 0:
        side = min(x.shape[-2:])
        kernel = max(3, (side // 2) | 1)  # odd, about half the image side
        steps.append(K.RandomElasticTransform(kernel_size=(kernel, kernel), sigma=(side / 2, side / 2),
                                              alpha=(0.5, 0.5), p=elastic))
    warp = K.AugmentationSequential(*steps)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        with torch.no_grad():
            out = warp(torch.as_tensor(x, dtype=torch.float32).repeat(k, 1, 1, 1)).clamp(0, 1)
    finally:
        torch.random.set_rng_state(state)
    return out.numpy(), np.tile(y, k)
