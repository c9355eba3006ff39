"""Warm-up adaptation shared by the gradient samplers, one state per chain (as Stan).

Dual averaging of the step size towards a target acceptance (Hoffman & Gelman 2014, Algorithm 5)
and an inverse mass matrix, diagonal or dense, estimated in Stan's doubling windows: an initial
fast buffer (step size only), slow windows of 25, 50, 100, ... draws whose variance (or
covariance) becomes the new metric, and a final fast buffer.
"""

from __future__ import annotations

import math

import torch


class DualAveraging:
    """log step size -> the value that makes the mean acceptance ``target_accept``; (C,) chains."""

    def __init__(self, step_size: torch.Tensor, target_accept: float, gamma: float = 0.05, t0: float = 10.0,
                 kappa: float = 0.75):
        self.target_accept, self.gamma, self.t0, self.kappa = target_accept, gamma, t0, kappa
        self.restart(step_size)

    def restart(self, step_size: torch.Tensor) -> None:
        self.log_step = step_size.log()
        self.mu = (10 * step_size).log()
        self.h_bar = torch.zeros_like(self.log_step)
        self.log_step_bar = torch.zeros_like(self.log_step)
        self.count = 0

    def update(self, accept_prob: torch.Tensor) -> torch.Tensor:
        """One update from this iteration's acceptance statistic (C,); returns the next step size."""
        self.count += 1
        m = self.count
        accept = torch.nan_to_num(accept_prob, nan=0.0).clamp(0, 1)
        w = 1 / (m + self.t0)
        self.h_bar = (1 - w) * self.h_bar + w * (self.target_accept - accept)
        self.log_step = self.mu - math.sqrt(m) / self.gamma * self.h_bar
        eta = m ** -self.kappa
        self.log_step_bar = eta * self.log_step + (1 - eta) * self.log_step_bar
        return self.log_step.exp()

    @property
    def final_step_size(self) -> torch.Tensor:
        return self.log_step_bar.exp()


def stan_windows(num_warmup: int, init_buffer: int = 75, term_buffer: int = 50,
                 base_window: int = 25) -> tuple[int, int, list[int]]:
    """(start, end, window_ends) of the slow adaptation phase, as Stan lays them out.

    Iteration ``i`` (0-based) is in the slow phase when start <= i < end; the metric is
    updated after each iteration in ``window_ends``. Too short a warm-up uses 15%/75%/10%.
    """
    if num_warmup < 20:
        return 0, 0, []
    if init_buffer + base_window + term_buffer > num_warmup:
        init_buffer, term_buffer = int(0.15 * num_warmup), int(0.1 * num_warmup)
        base_window = num_warmup - init_buffer - term_buffer
    end = num_warmup - term_buffer
    ends, start, size = [], init_buffer, base_window
    while start < end:
        stop = start + size
        if stop + 2 * size > end:  # the next window would not fit: stretch this one to the end
            stop = end
        ends.append(stop - 1)
        start, size = stop, 2 * size
    return init_buffer, end, ends


class WindowedMetric:
    """Welford variance (or, ``dense``, covariance) of each chain's warm-up draws in the current slow
    window -> inverse mass (C, D) or (C, D, D), shrunk towards 1e-3 (times I) as Stan does:
    n / (n + 5) var + 1e-3 * 5 / (n + 5)."""

    def __init__(self, num_warmup: int, num_chains: int, dim: int, like: torch.Tensor, dense: bool = False):
        self.start, self.end, self.ends = stan_windows(num_warmup)
        self.dense = dense
        self.inv_mass = unit_metric(num_chains, dim, like, dense)
        self._reset()

    def _reset(self) -> None:
        self.n = 0
        self.mean = torch.zeros(self.inv_mass.shape[:2], dtype=self.inv_mass.dtype, device=self.inv_mass.device)
        self.m2 = torch.zeros_like(self.inv_mass)

    def update(self, iteration: int, x: torch.Tensor) -> bool:
        """Add the draw of warm-up ``iteration``; True when a window closed and the metric changed."""
        if not self.start <= iteration < self.end:
            return False
        self.n += 1
        delta = x - self.mean
        self.mean = self.mean + delta / self.n
        after = x - self.mean
        self.m2 = self.m2 + (delta[:, :, None] * after[:, None, :] if self.dense else delta * after)
        if iteration not in self.ends:
            return False
        n = self.n
        variance = self.m2 / max(n - 1, 1)
        self.inv_mass = (n / (n + 5)) * variance + 1e-3 * (5 / (n + 5)) * unit_metric(*x.shape, x, self.dense)
        self._reset()
        return True


def unit_metric(num_chains: int, dim: int, like: torch.Tensor, dense: bool) -> torch.Tensor:
    """The identity metric: ones (C, D), or identity matrices (C, D, D) when ``dense``."""
    if dense:
        return torch.eye(dim, dtype=like.dtype, device=like.device).expand(num_chains, dim, dim).clone()
    return torch.ones(num_chains, dim, dtype=like.dtype, device=like.device)
