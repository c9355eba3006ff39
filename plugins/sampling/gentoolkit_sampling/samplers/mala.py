"""The Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996): a Langevin step
x' = x + h grad log p(x) + sqrt(2h) xi, accepted by Metropolis-Hastings so the chain targets p
exactly. The step h adapts by dual averaging towards 0.574 acceptance during warm-up."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from gentoolkit_sampling.samplers.adaptation import DualAveraging
from gentoolkit_sampling.samplers.base import Potential, check_positive, normal, positive, probability, uniform


@dataclass
class MALAParams:
    step_size: float = positive(0.1)  # h: the Langevin time step
    target_accept: float = probability(0.574)
    adapt_step_size: bool = True

    def __post_init__(self) -> None:
        check_positive(self)


@dataclass
class LangevinState:
    x: torch.Tensor
    log_prob: torch.Tensor
    grad: torch.Tensor
    step_size: torch.Tensor  # (C,)
    potential: Potential
    adapter: DualAveraging | None = None


def langevin_proposal(state: LangevinState, generator: torch.Generator | None) -> torch.Tensor:
    h = state.step_size[:, None]
    return state.x + h * state.grad + (2 * h).sqrt() * normal(tuple(state.x.shape), state.x, generator)


def log_q(to: torch.Tensor, start: torch.Tensor, grad: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
    """log density (up to a constant) of proposing ``to`` from ``start``."""
    return -((to - start - step[:, None] * grad) ** 2).sum(1) / (4 * step)


class MALA:
    name = "mala"
    uses_gradient = True

    def __init__(self, params: MALAParams | None = None):
        self.params = params or MALAParams()

    def init_state(self, potential: Potential, x: torch.Tensor, generator: torch.Generator | None,
                   num_warmup: int) -> LangevinState:
        log_prob, grad = potential.value_and_grad(x)
        step = torch.full_like(log_prob, self.params.step_size)
        adapter = DualAveraging(step, self.params.target_accept) if num_warmup and self.params.adapt_step_size \
            else None
        return LangevinState(x, log_prob, grad, step, potential, adapter)

    def step(self, state: LangevinState, generator: torch.Generator | None,
             warmup: bool) -> tuple[LangevinState, dict[str, Any]]:
        proposal = langevin_proposal(state, generator)
        log_prob, grad = state.potential.value_and_grad(proposal)
        diverging = ~torch.isfinite(log_prob)
        log_ratio = (log_prob + log_q(state.x, proposal, grad, state.step_size)
                     - state.log_prob - log_q(proposal, state.x, state.grad, state.step_size))
        log_ratio = torch.nan_to_num(log_ratio, nan=-torch.inf, neginf=-torch.inf)
        accept_prob = torch.where(diverging, 0.0, torch.exp(torch.clamp(log_ratio, max=0.0)))
        accept = uniform(tuple(accept_prob.shape), accept_prob, generator) < accept_prob
        new = replace(state, x=torch.where(accept[:, None], proposal, state.x),
                      log_prob=torch.where(accept, log_prob, state.log_prob),
                      grad=torch.where(accept[:, None], grad, state.grad))
        if warmup and state.adapter is not None:
            new.step_size = state.adapter.update(accept_prob)
        return new, {"accept_prob": accept_prob, "diverging": diverging}

    def end_warmup(self, state: LangevinState) -> None:
        if state.adapter is not None:
            state.step_size = state.adapter.final_step_size

    def summary(self, state: LangevinState) -> dict[str, Any]:
        return {"step_size": state.step_size.cpu().tolist()}
