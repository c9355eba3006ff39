"""Multi-octave 2-D simplex noise for diffusion (AnoDDPM, Wyatt et al. 2022), in torch.

Gaussian noise is white: each pixel on its own. Simplex noise is smooth at several scales, so a
DDPM trained to remove it learns to repair whole regions, and partial noising hides an anomaly
of a region's size, not only its fine texture.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gentoolkit.errors import ConfigError

# Hand-written (Gustavson 2012, "Simplex noise demystified") rather than from `opensimplex`, the one
# package for it: every opensimplex wheel also installs a top-level `tests` package into site-packages,
# which shadows a project's own tests. Vectorised, it also noises the whole batch in one pass.
_F2, _G2 = 0.5 * (math.sqrt(3.0) - 1.0), (3.0 - math.sqrt(3.0)) / 6.0
_SCALE = 0.5  # per wavelength: a corner reaches sqrt(2) wavelengths (falloff radius sqrt(0.5)), as in OpenSimplex
_GRADIENTS = torch.tensor([[1, 1], [-1, 1], [1, -1], [-1, -1], [1, 0], [-1, 0], [1, 0], [-1, 0],
                           [0, 1], [0, -1], [0, 1], [0, -1]], dtype=torch.float64)  # Gustavson's grad3, z dropped


def _simplex2d(x: Tensor, y: Tensor, perm: Tensor) -> Tensor:
    """2-D simplex noise in about [-1, 1] at points (x, y) (float64, any shape); ``perm`` is a
    permutation of 0..255 that picks each lattice corner's gradient."""
    perm = torch.cat([perm, perm])
    s = (x + y) * _F2  # skew to the square lattice, find the cell, unskew back
    i, j = torch.floor(x + s), torch.floor(y + s)
    t = (i + j) * _G2
    x0, y0 = x - (i - t), y - (j - t)
    i1 = (x0 > y0).to(torch.long)  # which of the cell's two triangles: (1, 0) or (0, 1) is the middle corner
    j1 = 1 - i1
    ii, jj = i.to(torch.long) & 255, j.to(torch.long) & 255
    total = torch.zeros_like(x)
    for di, dj, dx, dy in ((0, 0, x0, y0), (i1, j1, x0 - i1 + _G2, y0 - j1 + _G2),
                           (1, 1, x0 - 1 + 2 * _G2, y0 - 1 + 2 * _G2)):
        g = _GRADIENTS[perm[ii + di + perm[jj + dj]] % 12]
        falloff = (0.5 - dx * dx - dy * dy).clamp(min=0)
        total += falloff ** 4 * (g[..., 0] * dx + g[..., 1] * dy)
    return 70.0 * total


def simplex_noise(shape: tuple[int, ...], octaves: int = 3, persistence: float = 0.8, wavelength: float = 0.5,
                  generator: torch.Generator | None = None) -> Tensor:
    """(N, C, H, W) float32 noise, standardised per image and channel (mean 0, variance 1, as the
    DDPM's schedule expects). Each octave is 2-D simplex noise at a random offset per image and
    channel, all drawn from ``generator``; the first has a wavelength of ``wavelength`` x the image
    width, each next one half the last's and ``persistence`` times its weight (Wyatt et al.: 6, 0.8)."""
    if octaves < 1 or persistence <= 0 or wavelength <= 0:
        raise ConfigError(f"simplex noise needs octaves >= 1, persistence > 0 and wavelength > 0; got {octaves}, "
                          f"{persistence} and {wavelength}.")
    n, c, h, w = shape
    perm = torch.randperm(256, generator=generator)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                            indexing="ij")
    noise = torch.zeros(n * c, h, w, dtype=torch.float64)
    amplitude, period = 1.0, wavelength * w
    for _ in range(octaves):
        offsets = torch.rand(n * c, 2, 1, 1, generator=generator, dtype=torch.float64) * 256  # the lattice's period
        noise += amplitude * _simplex2d(xs * (_SCALE / period) + offsets[:, 0], ys * (_SCALE / period) + offsets[:, 1],
                                         perm)
        amplitude, period = amplitude * persistence, period / 2
    noise -= noise.mean(dim=(1, 2), keepdim=True)
    noise /= noise.std(dim=(1, 2), unbiased=False, keepdim=True) + 1e-8
    return noise.reshape(n, c, h, w).float()
