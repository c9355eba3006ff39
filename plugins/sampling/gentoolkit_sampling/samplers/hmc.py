"""Hamiltonian Monte Carlo with a fixed number of leapfrog steps (Neal 2011), step size by dual
averaging and a diagonal mass matrix adapted in warm-up. The step size is jittered per
transition (as Stan's static HMC), so trajectories on near-Gaussian targets cannot lock into a period."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gentoolkit.errors import GentoolkitError
from gentoolkit_sampling.samplers.base import check_positive, positive, probability, uniform
from gentoolkit_sampling.samplers.hamiltonian import Hamiltonian, HamiltonianState, Point, draw_momentum, kinetic, \
    leapfrog

MAX_ENERGY_ERROR = 1000.0  # an energy error above this is a divergence (Stan's threshold)


@dataclass
class HMCParams:
    step_size: float = positive(0.1)  # initial step size (the warm-up adapts it)
    num_steps: int = positive(16)  # leapfrog steps per transition
    jitter: float = 0.2  # each transition's step size is scaled by U(1 - jitter, 1 + jitter): breaks periodicity
    target_accept: float = probability(0.8)
    adapt_step_size: bool = True
    adapt_mass_matrix: bool = True
    dense_mass: bool = False  # adapt a full covariance (Stan's dense_e) instead of a diagonal

    def __post_init__(self) -> None:
        check_positive(self)
        if not 0 <= self.jitter < 1:
            raise GentoolkitError(f"HMCParams.jitter = {self.jitter} must lie in [0, 1).")


class HMC(Hamiltonian):
    name = "hmc"

    def __init__(self, params: HMCParams | None = None):
        super().__init__(params or HMCParams())

    def transition(self, state: HamiltonianState, generator: torch.Generator | None):
        r = draw_momentum(state.x, state.inv_mass, generator)
        start = Point(state.x, r, state.log_prob, state.grad)
        h0 = -state.log_prob + kinetic(r, state.inv_mass)
        p, alive = start, torch.ones_like(state.log_prob, dtype=torch.bool)
        jitter = self.params.jitter * (2 * uniform(tuple(h0.shape), h0, generator) - 1)
        step = state.step_size * (1 + jitter)
        for _ in range(self.params.num_steps):  # a chain stops integrating once it diverges
            p = leapfrog(state.potential, p, step, state.inv_mass, alive)
            error = torch.nan_to_num(-p.log_prob + kinetic(p.r, state.inv_mass) - h0, nan=torch.inf, posinf=torch.inf)
            alive &= error <= MAX_ENERGY_ERROR
        diverging = ~alive
        accept_prob = torch.where(diverging, 0.0, torch.exp(torch.clamp(-error, max=0.0)))
        accept = uniform(tuple(accept_prob.shape), accept_prob, generator) < accept_prob
        new = p.where(accept, start)
        return self.moved(state, new.x, new.log_prob, new.grad), {"accept_prob": accept_prob, "diverging": diverging}
