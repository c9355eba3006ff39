"""Random-walk Metropolis-Hastings: Gaussian proposals whose scale each chain adapts during warm-up
(dual averaging towards 0.234 acceptance, 0.44 in one dimension; Roberts, Gelman & Gilks 1997)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from gentoolkit.errors import GentoolkitError
from gentoolkit_sampling.samplers.adaptation import DualAveraging
from gentoolkit_sampling.samplers.base import Potential, check_positive, normal, positive, uniform


@dataclass
class RWMHParams:
    step_size: float = positive(0.5)  # initial proposal standard deviation
    target_accept: float = 0.0  # 0: 0.44 in one dimension, 0.234 otherwise
    adapt_step_size: bool = True

    def __post_init__(self) -> None:
        check_positive(self)
        if not 0 <= self.target_accept < 1:
            raise GentoolkitError(f"RWMHParams.target_accept = {self.target_accept} must lie in [0, 1) (0: automatic).")


def optimal_accept(dim: int) -> float:
    return 0.44 if dim == 1 else 0.234


@dataclass
class MHState:
    x: torch.Tensor
    log_prob: torch.Tensor
    step_size: torch.Tensor  # (C,) or (C, D) for per-coordinate scales
    potential: Potential
    adapter: DualAveraging | None = None


class RWMH:
    name = "rwmh"
    uses_gradient = False

    def __init__(self, params: RWMHParams | None = None):
        self.params = params or RWMHParams()

    def init_state(self, potential: Potential, x: torch.Tensor, generator: torch.Generator | None,
                   num_warmup: int) -> MHState:
        step = torch.full((x.shape[0],), self.params.step_size, dtype=x.dtype, device=x.device)
        target = self.params.target_accept or optimal_accept(x.shape[1])
        adapter = DualAveraging(step, target) if num_warmup and self.params.adapt_step_size else None
        return MHState(x, potential.log_prob(x), step, potential, adapter)

    def step(self, state: MHState, generator: torch.Generator | None, warmup: bool) -> tuple[MHState, dict[str, Any]]:
        proposal = state.x + state.step_size[:, None] * normal(tuple(state.x.shape), state.x, generator)
        log_prob = state.potential.log_prob(proposal)
        accept_prob = torch.exp(torch.clamp(log_prob - state.log_prob, max=0.0))  # 0 where log_prob = -inf
        accept = uniform(tuple(accept_prob.shape), accept_prob, generator) < accept_prob
        new = replace(state, x=torch.where(accept[:, None], proposal, state.x),
                      log_prob=torch.where(accept, log_prob, state.log_prob))
        if warmup and state.adapter is not None:
            new.step_size = state.adapter.update(accept_prob)
        return new, {"accept_prob": accept_prob, "diverging": torch.zeros_like(accept)}

    def end_warmup(self, state: MHState) -> None:
        if state.adapter is not None:
            state.step_size = state.adapter.final_step_size

    def summary(self, state: MHState) -> dict[str, Any]:
        return {"step_size": state.step_size.cpu().tolist()}
