"""Stochastic gradient Langevin dynamics (Welling & Teh 2011): x' = x + ε_t/2 ĝ(x) + N(0, ε_t I),
with ĝ an unbiased minibatch estimate of ∇ log p(x) and a decreasing step ε_t = ε_0 (1 + t/b)^-γ.

No Metropolis correction: the bias of the discretisation fades as ε_t shrinks. The target must
say how to estimate its gradient from a minibatch (``num_data`` and ``minibatch_grad(x, index)``);
each chain draws its own minibatch, without replacement, every step. A gradient evaluation counts
as ``batch_size / num_data`` of a full one, so ESS per gradient compares fairly with NUTS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from gentoolkit.errors import GentoolkitError
from gentoolkit_sampling.samplers.base import Potential, check_positive, normal, positive


@dataclass
class SGLDParams:
    step_size: float = positive(1e-3)  # ε_0, the step at t = 0
    decay_steps: float = positive(1000.0)  # b: ε_t = ε_0 (1 + t / b)^-decay
    decay: float = 0.55  # γ in (0.5, 1] (Robbins-Monro: Σ ε_t = ∞, Σ ε_t² < ∞); Welling & Teh use 0.55
    batch_size: int = positive(32)  # data items per chain and step

    def __post_init__(self) -> None:
        check_positive(self)
        if not 0.5 < self.decay <= 1:
            raise GentoolkitError(f"SGLDParams.decay = {self.decay} must lie in (0.5, 1] for the step sizes to "
                                  "shrink fast enough yet sum to infinity (Welling & Teh use 0.55).")


@dataclass
class SGLDState:
    x: torch.Tensor
    potential: Potential
    iteration: int = 0


class SGLD:
    name = "sgld"
    uses_gradient = True

    def __init__(self, params: SGLDParams | None = None):
        self.params = params or SGLDParams()

    def init_state(self, potential: Potential, x: torch.Tensor, generator: torch.Generator | None,
                   num_warmup: int) -> SGLDState:
        target = potential.target
        if not hasattr(target, "minibatch_grad"):
            raise GentoolkitError(f"Target {target.name!r} has no minibatch gradient (num_data and "
                                  "minibatch_grad(x, index)), so sgld cannot run on it; use ula, mala or nuts.")
        if self.params.batch_size > target.num_data:
            raise GentoolkitError(f"sgld batch_size = {self.params.batch_size} exceeds the {target.num_data} "
                                  f"data items of target {target.name!r}; use at most {target.num_data}.")
        return SGLDState(x, potential)

    def step_size_at(self, t: int) -> float:
        return self.params.step_size * (1 + t / self.params.decay_steps) ** -self.params.decay

    def step(self, state: SGLDState, generator: torch.Generator | None,
             warmup: bool) -> tuple[SGLDState, dict[str, Any]]:
        num_chains, num_data = state.x.shape[0], state.potential.target.num_data
        index = torch.rand(num_chains, num_data, generator=generator).argsort(1)[:, :self.params.batch_size]
        grad = state.potential.minibatch_grad(state.x, index.to(state.x.device))
        eps = self.step_size_at(state.iteration)
        proposal = state.x + 0.5 * eps * grad + eps**0.5 * normal(tuple(state.x.shape), state.x, generator)
        ok = torch.isfinite(proposal).all(1)  # a non-finite gradient: refuse the step, count a divergence
        x = torch.where(ok[:, None], proposal, state.x)
        return SGLDState(x, state.potential, state.iteration + 1), {"accept_prob": ok.to(x.dtype), "diverging": ~ok}

    def end_warmup(self, state: SGLDState) -> None:
        pass

    def summary(self, state: SGLDState) -> dict[str, Any]:
        return {"step_size_first": self.step_size_at(0), "step_size_last": self.step_size_at(state.iteration),
                "batch_size": self.params.batch_size}
