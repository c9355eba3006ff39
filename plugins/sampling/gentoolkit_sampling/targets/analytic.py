"""Analytic test targets with known moments: Gaussians, banana, Neal's funnel, a 2-D mixture.

The peers' own (NumPyro, BlackJAX, Stan's posteriordb): each has ``mean``/``std`` and an exact
sampler, so a sampler's output can be checked against the truth.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from gentoolkit.errors import GentoolkitError
from gentoolkit_sampling.targets.base import Target

LOG_2PI = math.log(2 * math.pi)


def _normal_logpdf(x: torch.Tensor, mean: torch.Tensor | float, log_std: torch.Tensor | float) -> torch.Tensor:
    log_std = torch.as_tensor(log_std, dtype=x.dtype)
    return -0.5 * ((x - mean) * torch.exp(-log_std)) ** 2 - log_std - 0.5 * LOG_2PI


class Gaussian(Target):
    """N(mean, cov) in any dimension; exact full conditionals, so Gibbs sampling applies."""

    def __init__(self, mean: Sequence[float], cov: torch.Tensor, name: str = "gaussian"):
        self.name = name
        self.mean = torch.as_tensor(mean, dtype=torch.float64)
        self.cov = torch.as_tensor(cov, dtype=torch.float64)
        self.dim = len(self.mean)
        if self.cov.shape != (self.dim, self.dim):
            raise GentoolkitError(f"Target {name!r}: covariance of shape {tuple(self.cov.shape)} does not fit a "
                                  f"mean of length {self.dim}; give a ({self.dim}, {self.dim}) matrix.")
        try:
            self._chol = torch.linalg.cholesky(self.cov)
        except RuntimeError:
            raise GentoolkitError(f"Target {name!r}: the covariance is not positive definite; check the scales "
                                  "(> 0) and correlations (|rho| < 1).") from None
        self.precision = torch.cholesky_inverse(self._chol)
        self.std = self.cov.diagonal().sqrt()
        self._log_norm = -0.5 * self.dim * LOG_2PI - self._chol.diagonal().log().sum()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.linalg.solve_triangular(self._chol, (x - self.mean).T, upper=False)  # (D, B)
        return -0.5 * (z**2).sum(0) + self._log_norm

    def conditional(self, i: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean (B,) and std of x_i given the other coordinates of ``x`` (B, D)."""
        p = self.precision[i]
        others = (x - self.mean) @ p - (x[:, i] - self.mean[i]) * p[i]
        return self.mean[i] - others / p[i], torch.sqrt(1 / p[i])

    def exact_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.mean + torch.randn(n, self.dim, generator=generator, dtype=torch.float64) @ self._chol.T


def gaussian(dim: int = 1, mean: float = 1.0, scale: float = 0.5) -> Gaussian:
    """Isotropic N(mean, scale^2 I): NumPyro's N(1, 0.5^2) test by default."""
    if scale <= 0:
        raise GentoolkitError(f"Target 'gaussian': scale = {scale} must be > 0.")
    return Gaussian([mean] * dim, torch.eye(dim, dtype=torch.float64) * scale**2, "gaussian")


def correlated_gaussian(rho: float = 0.99, scales: Sequence[float] = (1.0, 1.0)) -> Gaussian:
    """A bivariate Gaussian with correlation ``rho``: the textbook case for Gibbs sampling."""
    if not -1 < rho < 1:
        raise GentoolkitError(f"Target 'correlated-gaussian': rho = {rho} must lie strictly between -1 and 1.")
    s = torch.as_tensor(scales, dtype=torch.float64)
    cov = torch.tensor([[1.0, rho], [rho, 1.0]], dtype=torch.float64) * torch.outer(s, s)
    return Gaussian([0.0, 0.0], cov, "correlated-gaussian")


def ill_conditioned_gaussian(dim: int = 10, min_scale: float = 0.1, max_scale: float = 1.0) -> Gaussian:
    """Independent N(0, s_i^2) with scales evenly spread over [min_scale, max_scale]."""
    if not 0 < min_scale <= max_scale:
        raise GentoolkitError("Target 'ill-conditioned-gaussian': need 0 < min_scale <= max_scale.")
    scales = torch.linspace(min_scale, max_scale, dim, dtype=torch.float64)
    return Gaussian([0.0] * dim, torch.diag(scales**2), "ill-conditioned-gaussian")


class Banana(Target):
    """x0 ~ N(0, scale^2), x1 | x0 ~ N(curvature (x0^2 - scale^2), 1): a curved, banana-shaped valley."""

    name = "banana"
    dim = 2

    def __init__(self, scale: float = 2.0, curvature: float = 0.5):
        if scale <= 0:
            raise GentoolkitError(f"Target 'banana': scale = {scale} must be > 0.")
        self.scale, self.curvature = scale, curvature
        # E x1 = 0; Var x1 = 1 + c^2 Var(x0^2) = 1 + 2 c^2 s^4.
        self.mean = torch.zeros(2, dtype=torch.float64)
        self.std = torch.tensor([scale, math.sqrt(1 + 2 * curvature**2 * scale**4)], dtype=torch.float64)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        x0, x1 = x[:, 0], x[:, 1]
        return (_normal_logpdf(x0, 0.0, math.log(self.scale))
                + _normal_logpdf(x1, self.curvature * (x0**2 - self.scale**2), 0.0))

    def log_prob_and_grad(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log p and its analytic gradient: with r = x1 - c (x0^2 - s^2), d/dx0 = -x0 / s^2 + 2 c x0 r and
        d/dx1 = -r. On 2 parameters autograd's overhead was about 40% of NUTS's time."""
        x0 = x[:, 0]
        r = x[:, 1] - self.curvature * (x0**2 - self.scale**2)
        value = -0.5 * (x0 / self.scale) ** 2 - 0.5 * r**2 - math.log(self.scale) - LOG_2PI
        return value, torch.stack([-x0 / self.scale**2 + 2 * self.curvature * x0 * r, -r], 1)

    def exact_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        x0 = self.scale * z[:, 0]
        return torch.stack([x0, self.curvature * (x0**2 - self.scale**2) + z[:, 1]], 1)


class Funnel(Target):
    """Neal's funnel: v ~ N(0, 3^2), x_i | v ~ N(0, e^v) for i = 1..dim-1. Its neck makes
    gradient samplers diverge: the test of divergence counting."""

    name = "funnel"

    def __init__(self, dim: int = 10, scale: float = 3.0):
        if dim < 2:
            raise GentoolkitError(f"Target 'funnel': dim = {dim} must be at least 2.")
        self.dim, self.scale = dim, scale
        self.mean = torch.zeros(dim, dtype=torch.float64)
        # Var x_i = E e^v = exp(scale^2 / 2).
        self.std = torch.tensor([scale] + [math.exp(scale**2 / 4)] * (dim - 1), dtype=torch.float64)

    @property
    def param_names(self) -> list[str]:
        return ["v"] + [f"x{i}" for i in range(1, self.dim)]

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        v = x[:, 0]
        return _normal_logpdf(v, 0.0, math.log(self.scale)) + _normal_logpdf(x[:, 1:], 0.0, v[:, None] / 2).sum(1)

    def exact_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        v = self.scale * z[:, :1]
        return torch.cat([v, z[:, 1:] * torch.exp(v / 2)], 1)


class Mixture(Target):
    """An equal mixture of two isotropic 2-D Gaussians at -offset and +offset (both coordinates)."""

    name = "mixture"
    dim = 2

    def __init__(self, offset: float = 2.0, scale: float = 0.75):
        if scale <= 0:
            raise GentoolkitError(f"Target 'mixture': scale = {scale} must be > 0.")
        self.offset, self.scale = offset, scale
        self.mean = torch.zeros(2, dtype=torch.float64)
        self.std = torch.full((2,), math.sqrt(scale**2 + offset**2), dtype=torch.float64)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        log_std = math.log(self.scale)
        a = _normal_logpdf(x, self.offset, log_std).sum(1)
        b = _normal_logpdf(x, -self.offset, log_std).sum(1)
        return torch.logaddexp(a, b) - math.log(2)

    def exact_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        sign = torch.randint(0, 2, (n, 1), generator=generator).double() * 2 - 1
        return sign * self.offset + self.scale * torch.randn(n, 2, generator=generator, dtype=torch.float64)
