"""Gibbs sampling: each coordinate in turn from its exact full conditional (systematic scan).

Needs a target with tractable conditionals, ``target.conditional(i, x) -> (mean, std)`` of
coordinate i given the others (a Gaussian, the textbook bivariate case); for any other target
use Metropolis-within-Gibbs (``mwg``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from gentoolkit.errors import GentoolkitError
from gentoolkit_sampling.samplers.base import Potential, normal


@dataclass
class GibbsParams:
    pass  # exact conditionals need no tuning


@dataclass
class GibbsState:
    x: torch.Tensor
    potential: Potential


class Gibbs:
    name = "gibbs"
    uses_gradient = False

    def __init__(self, params: GibbsParams | None = None):
        self.params = params or GibbsParams()

    def init_state(self, potential: Potential, x: torch.Tensor, generator: torch.Generator | None,
                   num_warmup: int) -> GibbsState:
        if not callable(getattr(potential.target, "conditional", None)):
            raise GentoolkitError(f"Target {potential.target.name!r} has no tractable full conditionals "
                                  "(conditional(i, x)), so exact Gibbs sampling cannot run on it; use the "
                                  "Metropolis-within-Gibbs sampler 'mwg' instead.")
        return GibbsState(x, potential)

    def step(self, state: GibbsState, generator: torch.Generator | None,
             warmup: bool) -> tuple[GibbsState, dict[str, Any]]:
        x = state.x.clone()
        for i in range(x.shape[1]):
            mean, std = state.potential.target.conditional(i, x)
            x[:, i] = mean + std * normal((x.shape[0],), x, generator)
        ones = torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
        return replace(state, x=x), {"accept_prob": ones, "diverging": torch.zeros_like(ones, dtype=torch.bool)}

    def end_warmup(self, state: GibbsState) -> None:
        pass

    def summary(self, state: GibbsState) -> dict[str, Any]:
        return {}
