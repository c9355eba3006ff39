"""Metropolis-within-Gibbs: a random-walk Metropolis update of one coordinate at a time, each with
its own proposal scale adapted in warm-up towards 0.44 acceptance. Works on any log-density."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from gentoolkit_sampling.samplers.adaptation import DualAveraging
from gentoolkit_sampling.samplers.base import Potential, check_positive, normal, positive, probability, uniform


@dataclass
class MWGParams:
    step_size: float = positive(0.5)  # initial proposal standard deviation of every coordinate
    target_accept: float = probability(0.44)
    adapt_step_size: bool = True

    def __post_init__(self) -> None:
        check_positive(self)


@dataclass
class MWGState:
    x: torch.Tensor
    log_prob: torch.Tensor
    step_size: torch.Tensor  # (C, D)
    potential: Potential
    adapter: DualAveraging | None = None


class MetropolisWithinGibbs:
    name = "mwg"
    uses_gradient = False

    def __init__(self, params: MWGParams | None = None):
        self.params = params or MWGParams()

    def init_state(self, potential: Potential, x: torch.Tensor, generator: torch.Generator | None,
                   num_warmup: int) -> MWGState:
        step = torch.full_like(x, self.params.step_size)
        adapter = DualAveraging(step, self.params.target_accept) if num_warmup and self.params.adapt_step_size \
            else None
        return MWGState(x, potential.log_prob(x), step, potential, adapter)

    def step(self, state: MWGState, generator: torch.Generator | None,
             warmup: bool) -> tuple[MWGState, dict[str, Any]]:
        x, log_prob = state.x.clone(), state.log_prob.clone()
        accept_probs = torch.empty_like(x)
        for i in range(x.shape[1]):
            proposal = x.clone()
            proposal[:, i] += state.step_size[:, i] * normal((x.shape[0],), x, generator)
            new_log_prob = state.potential.log_prob(proposal)
            accept_probs[:, i] = torch.exp(torch.clamp(new_log_prob - log_prob, max=0.0))
            accept = uniform((x.shape[0],), x, generator) < accept_probs[:, i]
            x = torch.where(accept[:, None], proposal, x)
            log_prob = torch.where(accept, new_log_prob, log_prob)
        new = replace(state, x=x, log_prob=log_prob)
        if warmup and state.adapter is not None:
            new.step_size = state.adapter.update(accept_probs)
        return new, {"accept_prob": accept_probs.mean(1), "diverging": torch.zeros_like(log_prob, dtype=torch.bool)}

    def end_warmup(self, state: MWGState) -> None:
        if state.adapter is not None:
            state.step_size = state.adapter.final_step_size

    def summary(self, state: MWGState) -> dict[str, Any]:
        return {"step_size": state.step_size.cpu().tolist()}
