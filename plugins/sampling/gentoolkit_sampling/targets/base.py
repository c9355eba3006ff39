"""The target interface every sampler works on: a differentiable log-density over (B, dim) tensors."""

from __future__ import annotations

from typing import Any

import torch


class Target:
    """An unnormalised log-density ``log_prob(x)``: (B, dim) -> (B,), autograd-differentiable.

    ``init(n, generator)`` gives starting points (uniform on [-2, 2], as Stan does); analytic
    targets also know their ``mean``/``std`` and can draw ``exact_sample``s for checks.
    """

    name = "target"
    dim: int
    dtype = torch.float64
    device = torch.device("cpu")

    @property
    def param_names(self) -> list[str]:
        return [f"x{i}" for i in range(self.dim)]

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # A target may also define ``log_prob_and_grad(x) -> (log_prob (B,), grad (B, dim))`` with an
    # analytic gradient; samplers then use it instead of autograd.

    def init(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        u = torch.rand(n, self.dim, generator=generator, dtype=torch.float64)
        return (4 * u - 2).to(self.device, self.dtype)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "dim": self.dim}
