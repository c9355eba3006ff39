"""The unadjusted Langevin algorithm: x' = x + h grad log p(x) + sqrt(2h) xi with no correction.

Biased: on N(0, 1) its stationary variance is 1 / (1 - h/2), not 1 (MALA removes the bias).
Cheap and the basis of SGLD and of short-run EBM sampling. A step to a point where the
log-density or its gradient is not finite is refused and counted as a divergence.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from gentoolkit_sampling.samplers.base import Potential, check_positive, positive
from gentoolkit_sampling.samplers.mala import LangevinState, langevin_proposal


@dataclass
class ULAParams:
    step_size: float = positive(0.01)  # h: the Langevin time step (fixed; sets the bias)

    def __post_init__(self) -> None:
        check_positive(self)


class ULA:
    name = "ula"
    uses_gradient = True

    def __init__(self, params: ULAParams | None = None):
        self.params = params or ULAParams()

    def init_state(self, potential: Potential, x: torch.Tensor, generator: torch.Generator | None,
                   num_warmup: int) -> LangevinState:
        log_prob, grad = potential.value_and_grad(x)
        return LangevinState(x, log_prob, grad, torch.full_like(log_prob, self.params.step_size), potential)

    def step(self, state: LangevinState, generator: torch.Generator | None,
             warmup: bool) -> tuple[LangevinState, dict[str, Any]]:
        proposal = langevin_proposal(state, generator)
        log_prob, grad = state.potential.value_and_grad(proposal)
        ok = torch.isfinite(log_prob)
        new = replace(state, x=torch.where(ok[:, None], proposal, state.x),
                      log_prob=torch.where(ok, log_prob, state.log_prob),
                      grad=torch.where(ok[:, None], grad, state.grad))
        return new, {"accept_prob": ok.to(log_prob.dtype), "diverging": ~ok}

    def end_warmup(self, state: LangevinState) -> None:
        pass

    def summary(self, state: LangevinState) -> dict[str, Any]:
        return {"step_size": state.step_size.cpu().tolist()}
