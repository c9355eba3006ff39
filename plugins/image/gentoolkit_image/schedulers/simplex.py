"""Multi-octave simplex noise for diffusion (AnoDDPM, Wyatt et al. 2022), from ``opensimplex``.

Gaussian noise is white: each pixel on its own. Simplex noise is smooth at several scales, so a
DDPM trained to remove it learns to repair whole regions, and partial noising hides an anomaly
of a region's size, not only its fine texture.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gentoolkit.errors import ConfigError


def simplex_noise(shape: tuple[int, ...], octaves: int = 3, persistence: float = 0.8, wavelength: float = 0.5,
                  generator: torch.Generator | None = None) -> Tensor:
    """(N, C, H, W) float32 noise, standardised per image and channel (mean 0, variance 1, as the
    DDPM's schedule expects). Each octave is a slice of 3-D simplex noise at a random depth drawn
    from ``generator``; the first has a wavelength of ``wavelength`` x the image width, each next
    one half the last's and ``persistence`` times its weight (Wyatt et al.: 6 octaves, 0.8)."""
    try:
        from opensimplex import OpenSimplex
    except ImportError:
        raise ConfigError("Simplex noise needs the opensimplex package: pip install 'gentoolkit-image[simplex]' "
                          "(it also installs a top-level `tests` package into site-packages).") from None
    if octaves < 1 or persistence <= 0 or wavelength <= 0:
        raise ConfigError(f"simplex noise needs octaves >= 1, persistence > 0 and wavelength > 0; got {octaves}, "
                          f"{persistence} and {wavelength}.")
    n, c, h, w = shape
    simplex = OpenSimplex(0)  # the randomness is in the depths below, drawn from torch's generator
    noise = np.zeros((n * c, h, w))
    amplitude, period = 1.0, wavelength * w
    for _ in range(octaves):
        depths = torch.rand(n * c, generator=generator, dtype=torch.float64).numpy() * 1e4
        xs, ys = np.arange(w) / period, np.arange(h) / period
        # point by point: noise3array runs numba in parallel, which set torch to 2 threads and slowed training 20x
        noise += amplitude * np.array([[[simplex.noise3(x, y, z) for x in xs] for y in ys] for z in depths])
        amplitude, period = amplitude * persistence, period / 2
    noise -= noise.mean(axis=(1, 2), keepdims=True)
    noise /= noise.std(axis=(1, 2), keepdims=True) + 1e-8
    return torch.from_numpy(noise.reshape(n, c, h, w)).float()
