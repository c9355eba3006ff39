"""What every sampler shares: the counted, checked log-density, the chains' result, the run loop.

A sampler moves a batch of C chains (C, D) at once. It implements ``init_state``, ``step`` (one
transition of every chain, adapting during warm-up) and ``end_warmup``; :func:`run_chains` drives
warm-up and sampling and records draws, acceptance, divergences, evaluations and time.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable

import torch

from gentoolkit.errors import GentoolkitError


class Potential:
    """``target.log_prob`` with its gradient, counted per chain and checked.

    A NaN log-density or gradient at a proposed point reads as -inf (the proposal is rejected and,
    for gradient samplers, a divergence is counted); +inf means an improper target and raises.
    """

    def __init__(self, target: Any):
        self.target = target
        self.log_prob_evals: torch.Tensor | None = None  # (C,) per chain
        self.grad_evals: torch.Tensor | None = None

    def reset_counts(self, num_chains: int) -> None:
        self.log_prob_evals = torch.zeros(num_chains, dtype=torch.float64)  # fractional for minibatch gradients
        self.grad_evals = torch.zeros(num_chains, dtype=torch.float64)

    def _check(self, log_prob: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if log_prob.shape != x.shape[:1]:
            raise GentoolkitError(f"Target {self.target.name!r}: log_prob of a batch of shape {tuple(x.shape)} "
                                  f"returned shape {tuple(log_prob.shape)}; it must return one value per row.")
        if torch.isposinf(log_prob).any():
            row = x[torch.isposinf(log_prob)][0].tolist()
            raise GentoolkitError(f"Target {self.target.name!r}: log_prob is +inf at {row[:6]}; the density is "
                                  "improper or singular there. Fix the target (bound it, or add a proper prior).")
        return torch.nan_to_num(log_prob.detach(), nan=-math.inf, neginf=-math.inf)

    def log_prob(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x) (C,); only the chains in ``mask`` are counted."""
        with torch.no_grad():
            value = self._check(self.target.log_prob(x), x)
        self.log_prob_evals += 1 if mask is None else mask.to(torch.long)
        return value

    def value_and_grad(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(x) (C,) and its gradient (C, D); rows with a non-finite gradient get log p = -inf."""
        analytic = getattr(self.target, "log_prob_and_grad", None)
        if analytic is not None:
            with torch.no_grad():
                value, grad = analytic(x)
        else:
            value, grad = self._autograd(x)
        value = self._check(value, x)
        bad = ~torch.isfinite(grad).all(1)
        value = torch.where(bad, torch.full_like(value, -math.inf), value)
        grad = torch.where(bad[:, None], torch.zeros_like(grad), grad)
        counted = 1 if mask is None else mask.to(torch.long)
        self.log_prob_evals += counted
        self.grad_evals += counted
        return value, grad

    def minibatch_grad(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """The target's unbiased estimate of grad log p(x) (C, D) from data rows ``index`` (C, n); each
        counts as n / num_data of a gradient evaluation."""
        with torch.no_grad():
            grad = self.target.minibatch_grad(x, index)
        if grad.shape != x.shape:
            raise GentoolkitError(f"Target {self.target.name!r}: minibatch_grad of a batch of shape {tuple(x.shape)} "
                                  f"returned shape {tuple(grad.shape)}; it must return one gradient per row.")
        self.grad_evals += index.shape[1] / self.target.num_data
        return grad

    def _autograd(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            value = self.target.log_prob(x)
            if not value.requires_grad:
                raise GentoolkitError(f"Target {self.target.name!r}: log_prob gives no gradient in x, so gradient "
                                      "samplers (hmc, nuts, mala, ula) cannot run on it; use rwmh or mwg.")
            (grad,) = torch.autograd.grad(value.sum(), x)
        return value, grad


def check_positive(owner: Any) -> None:
    """Refuse a parameters dataclass whose step sizes, counts or targets are out of range."""
    for f in fields(owner):
        value = getattr(owner, f.name)
        positive = f.metadata.get("positive")
        if positive and not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
            raise GentoolkitError(f"{type(owner).__name__}.{f.name} = {value!r} must be a finite number > 0.")
        unit = f.metadata.get("unit_interval")
        if unit and not 0 < value < 1:
            raise GentoolkitError(f"{type(owner).__name__}.{f.name} = {value!r} must lie strictly between 0 and 1.")


def positive(default: Any) -> Any:
    return field(default=default, metadata={"positive": True})


def probability(default: float) -> Any:
    return field(default=default, metadata={"unit_interval": True})


@dataclass
class Chains:
    """Draws and statistics of C chains: ``samples`` (C, N, D) after warm-up, per-draw stats (C, N)."""

    sampler: str
    target: str
    param_names: list[str]
    samples: torch.Tensor
    accept_prob: torch.Tensor
    diverging: torch.Tensor
    grad_evals: torch.Tensor  # (C,) during sampling (warm-up excluded)
    log_prob_evals: torch.Tensor
    warmup_seconds: float
    sample_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)  # step size, tree depth, ...
    items: list[list[Any]] | None = None  # a discrete target's draws themselves (C lists of N), e.g. SMILES
    warmup_cpu_seconds: float = 0.0  # process CPU time beside the wall times above (others' load inflates those)
    sample_cpu_seconds: float = 0.0

    @property
    def num_chains(self) -> int:
        return self.samples.shape[0]

    @property
    def num_draws(self) -> int:
        return self.samples.shape[1]

    @property
    def num_divergent(self) -> int:
        return int(self.diverging.sum())


def initial_points(target: Any, num_chains: int, init: torch.Tensor | None,
                   generator: torch.Generator | None) -> torch.Tensor:
    """Starting points (C, D): ``init`` when given (one row, or one per chain), else the target's."""
    if init is None:
        x = target.init(num_chains, generator)
    else:
        x = torch.as_tensor(init, dtype=target.dtype).to(target.device).reshape(-1, target.dim)
        if x.shape[0] == 1:
            x = x.expand(num_chains, -1).clone()
        if x.shape[0] != num_chains:
            raise GentoolkitError(f"init has {x.shape[0]} rows for {num_chains} chains; give one row or one per chain.")
    if not torch.isfinite(x).all():
        bad = x[~torch.isfinite(x).all(1)][0].tolist()[:6]
        raise GentoolkitError(f"The starting point of some chain is not finite ({bad}); start every chain at "
                              "finite values.")
    return x


def check_start(potential: Potential, x: torch.Tensor) -> None:
    """Refuse to start a chain where the target has zero (or undefined) density."""
    value = potential.log_prob(x)
    bad = ~torch.isfinite(value)
    if bad.any():
        raise GentoolkitError(f"Target {potential.target.name!r}: log_prob is {value[bad][0].item()} at the starting "
                              f"point {x[bad][0].tolist()[:6]} of {int(bad.sum())} chain(s); start inside the "
                              "support, where log_prob is finite.")


def normal(shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise of ``shape`` on ``like``'s device and dtype, from ``generator`` (CPU)."""
    return torch.randn(shape, generator=generator, dtype=torch.float64).to(like.device, like.dtype)


def uniform(shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(shape, generator=generator, dtype=torch.float64).to(like.device, like.dtype)


def run_chains(sampler: Any, target: Any, *, num_chains: int = 4, num_warmup: int = 1000, num_samples: int = 1000,
               generator: torch.Generator | None = None, init: torch.Tensor | None = None,
               progress: Callable[..., None] | None = None) -> Chains:
    """Warm up, then draw ``num_samples`` from each of ``num_chains`` chains run as one batch."""
    if num_chains < 1 or num_samples < 1 or num_warmup < 0:
        raise GentoolkitError(f"Need num_chains >= 1, num_samples >= 1 and num_warmup >= 0; got {num_chains}, "
                              f"{num_samples}, {num_warmup}.")
    if getattr(sampler, "discrete", False):  # it runs its own loop over items that are not tensors
        return sampler.run(target, num_chains=num_chains, num_warmup=num_warmup, num_samples=num_samples,
                           generator=generator, progress=progress)
    if getattr(target, "discrete", False):
        raise GentoolkitError(f"Target {target.name!r} is over discrete items (strings), where sampler "
                              f"{sampler.name!r} cannot move; use the independence Metropolis-Hastings sampler "
                              "'imh'.")
    potential = Potential(target)
    potential.reset_counts(num_chains)
    x = initial_points(target, num_chains, init, generator)
    check_start(potential, x)
    start, cpu = time.perf_counter(), time.process_time()
    state = sampler.init_state(potential, x, generator, num_warmup)
    for i in range(num_warmup):
        state, _ = sampler.step(state, generator, warmup=True)
        if progress:
            progress()
    sampler.end_warmup(state)
    warmup_seconds, warmup_cpu = time.perf_counter() - start, time.process_time() - cpu
    potential.reset_counts(num_chains)
    draws, accept, diverging = [], [], []
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(num_samples):
        state, info = sampler.step(state, generator, warmup=False)
        draws.append(state.x.detach().cpu())
        accept.append(info["accept_prob"].cpu())
        diverging.append(info["diverging"].cpu())
        if progress:
            progress()
    sample_seconds, sample_cpu = time.perf_counter() - start, time.process_time() - cpu
    return Chains(sampler.name, target.name, list(target.param_names), torch.stack(draws, 1).double(),
                  torch.stack(accept, 1).double(), torch.stack(diverging, 1), potential.grad_evals.clone(),
                  potential.log_prob_evals.clone(), warmup_seconds, sample_seconds, sampler.summary(state),
                  warmup_cpu_seconds=warmup_cpu, sample_cpu_seconds=sample_cpu)
