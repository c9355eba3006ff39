"""Hamiltonian dynamics shared by HMC and NUTS: phase-space points, the leapfrog integrator, the
initial step-size search, and warm-up (dual averaging plus a windowed diagonal metric).

A subclass writes only ``transition(state, generator)``: one move of every chain from
``state.x`` with ``state.step_size`` (C,) and ``state.inv_mass``: a diagonal (C, D) or, with a
dense metric, a full inverse mass matrix (C, D, D) per chain.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from gentoolkit_sampling.samplers.adaptation import DualAveraging, WindowedMetric, unit_metric
from gentoolkit_sampling.samplers.base import Potential, normal


@dataclass
class Point:
    """Chains' positions (C, D), momenta (C, D), log-densities (C,) and gradients (C, D)."""

    x: torch.Tensor
    r: torch.Tensor
    log_prob: torch.Tensor
    grad: torch.Tensor

    def where(self, mask: torch.Tensor, other: Point) -> Point:
        """This point for chains in ``mask`` (C,), ``other`` elsewhere."""
        m = mask[:, None]
        return Point(torch.where(m, self.x, other.x), torch.where(m, self.r, other.r),
                     torch.where(mask, self.log_prob, other.log_prob), torch.where(m, self.grad, other.grad))


def velocity(r: torch.Tensor, inv_mass: torch.Tensor) -> torch.Tensor:
    """dx/dt = M^-1 r (C, D), for a diagonal (C, D) or dense (C, D, D) inverse mass."""
    return (inv_mass @ r[:, :, None]).squeeze(-1) if inv_mass.dim() == 3 else inv_mass * r


def kinetic(r: torch.Tensor, inv_mass: torch.Tensor) -> torch.Tensor:
    # The diagonal case keeps its original order of operations, so seeded runs reproduce bit for bit.
    return 0.5 * ((r * r * inv_mass) if inv_mass.dim() == 2 else r * velocity(r, inv_mass)).sum(1)


def leapfrog(potential: Potential, p: Point, step: torch.Tensor, inv_mass: torch.Tensor,
             mask: torch.Tensor | None = None) -> Point:
    """One leapfrog step of signed size ``step`` (C,); chains outside ``mask`` stay where they are."""
    eps = step[:, None]
    r = p.r + 0.5 * eps * p.grad
    x = p.x + (eps * inv_mass * r if inv_mass.dim() == 2 else eps * velocity(r, inv_mass))
    log_prob, grad = potential.value_and_grad(x, mask)
    new = Point(x, r + 0.5 * eps * grad, log_prob, grad)
    return new if mask is None else new.where(mask, p)


def draw_momentum(x: torch.Tensor, inv_mass: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """r ~ N(0, M): z / sqrt(diag), or L^-T z where M^-1 = L L^T for a dense metric."""
    z = normal(tuple(x.shape), x, generator)
    if inv_mass.dim() == 2:
        return z / inv_mass.sqrt()
    lower = torch.linalg.cholesky(inv_mass)
    return torch.linalg.solve_triangular(lower.transpose(1, 2), z[:, :, None], upper=True).squeeze(-1)


def initial_step_size(potential: Potential, x: torch.Tensor, log_prob: torch.Tensor, grad: torch.Tensor,
                      inv_mass: torch.Tensor, generator: torch.Generator | None, start: float = 1.0) -> torch.Tensor:
    """Hoffman & Gelman's heuristic (Algorithm 4): double or halve each chain's step until one
    leapfrog step's acceptance crosses 1/2."""
    step = torch.full_like(log_prob, start)
    r = draw_momentum(x, inv_mass, generator)
    p = Point(x, r, log_prob, grad)
    h0 = -log_prob + kinetic(r, inv_mass)

    def log_accept(step: torch.Tensor) -> torch.Tensor:
        q = leapfrog(potential, p, step, inv_mass)
        return torch.nan_to_num(h0 - (-q.log_prob + kinetic(q.r, inv_mass)), nan=-torch.inf, neginf=-torch.inf)

    direction = torch.where(log_accept(step) > -0.6931, 1.0, -1.0).to(step)
    active = torch.ones_like(step, dtype=torch.bool)
    for _ in range(60):
        crossing = direction * log_accept(step) > -direction * 0.6931
        active &= crossing
        if not active.any():
            break
        step = torch.where(active, step * 2.0**direction, step)
    return step.clamp(1e-8, 1e3)


@dataclass
class HamiltonianState:
    x: torch.Tensor
    log_prob: torch.Tensor
    grad: torch.Tensor
    step_size: torch.Tensor  # (C,)
    inv_mass: torch.Tensor  # (C, D), or (C, D, D) dense
    potential: Potential
    iteration: int = 0
    adapter: DualAveraging | None = None
    metric: WindowedMetric | None = None


class Hamiltonian:
    """Warm-up and bookkeeping of a Hamiltonian sampler; subclasses define ``transition``."""

    name = "hamiltonian"
    uses_gradient = True

    def __init__(self, params: Any):
        self.params = params

    def init_state(self, potential: Potential, x: torch.Tensor, generator: torch.Generator | None,
                   num_warmup: int) -> HamiltonianState:
        log_prob, grad = potential.value_and_grad(x)
        inv_mass = unit_metric(*x.shape, x, self.params.dense_mass)
        step = torch.full_like(log_prob, self.params.step_size)
        if num_warmup > 0 and self.params.adapt_step_size:
            step = initial_step_size(potential, x, log_prob, grad, inv_mass, generator, self.params.step_size)
        state = HamiltonianState(x, log_prob, grad, step, inv_mass, potential)
        if num_warmup > 0:
            state.adapter = DualAveraging(step, self.params.target_accept)
            if self.params.adapt_mass_matrix:
                state.metric = WindowedMetric(num_warmup, x.shape[0], x.shape[1], x, self.params.dense_mass)
        return state

    def step(self, state: HamiltonianState, generator: torch.Generator | None,
             warmup: bool) -> tuple[HamiltonianState, dict[str, torch.Tensor]]:
        new, info = self.transition(state, generator)
        if warmup and state.adapter is not None:
            if self.params.adapt_step_size:
                new.step_size = state.adapter.update(info["accept_prob"])
            if state.metric is not None and state.metric.update(state.iteration, new.x):
                new.inv_mass = state.metric.inv_mass
                if self.params.adapt_step_size:  # the metric changed: search again, restart averaging
                    new.step_size = initial_step_size(state.potential, new.x, new.log_prob, new.grad, new.inv_mass,
                                                      generator, 1.0)
                    state.adapter.restart(new.step_size)
        new.iteration = state.iteration + 1
        return new, info

    def end_warmup(self, state: HamiltonianState) -> None:
        if state.adapter is not None and self.params.adapt_step_size:
            state.step_size = state.adapter.final_step_size

    def transition(self, state: HamiltonianState,
                   generator: torch.Generator | None) -> tuple[HamiltonianState, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def moved(self, state: HamiltonianState, x: torch.Tensor, log_prob: torch.Tensor,
              grad: torch.Tensor) -> HamiltonianState:
        return replace(state, x=x, log_prob=log_prob, grad=grad)

    def summary(self, state: HamiltonianState) -> dict[str, Any]:
        return {"step_size": state.step_size.cpu().tolist(), "inv_mass": state.inv_mass.cpu().tolist()}
