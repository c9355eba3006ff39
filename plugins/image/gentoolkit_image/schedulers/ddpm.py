"""The DDPM noise schedule and its ancestral sampling step (Ho et al. 2020).

The forward process noises a clean image x0 to x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps;
``step`` walks back one step using the model's noise prediction eps_theta(x_t, t).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gentoolkit.errors import ConfigError

BETA_SCHEDULES = ("linear", "cosine")


def make_betas(num_timesteps: int, schedule: str = "linear", beta_start: float = 1e-4,
               beta_end: float = 0.02) -> Tensor:
    """Per-step noise variances beta_1..beta_T (float64).

    ``linear`` is Ho et al.'s schedule, rescaled so that short schedules add the same total noise;
    ``cosine`` is Nichol & Dhariwal's, with abar_t = cos^2((t/T + s) / (1 + s) * pi/2).
    """
    if schedule == "linear":
        scale = 1000 / num_timesteps
        betas = torch.linspace(beta_start * scale, beta_end * scale, num_timesteps, dtype=torch.float64)
        return betas.clamp(max=0.999)
    if schedule == "cosine":
        s = 0.008
        steps = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps
        abar = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        return (1 - abar[1:] / abar[:-1]).clamp(max=0.999)
    raise ConfigError(f"Unknown beta schedule {schedule!r}; use one of {', '.join(BETA_SCHEDULES)}.")


class DDPMScheduler:
    """Forward noising (``add_noise``) and ancestral reverse steps (``step``) over T timesteps."""

    def __init__(self, num_train_timesteps: int = 1000, beta_schedule: str = "linear",
                 beta_start: float = 1e-4, beta_end: float = 0.02, clip_sample: bool = True):
        self.num_train_timesteps = num_train_timesteps
        self.clip_sample = clip_sample  # clamp the predicted x0 to the data range [-1, 1]
        self.betas = make_betas(num_train_timesteps, beta_schedule, beta_start, beta_end)
        self.alphas = 1 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        # q(x_{t-1} | x_t, x0) = N(coef_x0 * x0 + coef_xt * x_t, posterior_variance)
        self.posterior_variance = self.betas * (1 - abar_prev) / (1 - self.alphas_cumprod)
        self.coef_x0 = self.betas * abar_prev.sqrt() / (1 - self.alphas_cumprod)
        self.coef_xt = (1 - abar_prev) * self.alphas.sqrt() / (1 - self.alphas_cumprod)

    @property
    def timesteps(self) -> Tensor:
        """The reverse-process timesteps, T-1 down to 0."""
        return torch.arange(self.num_train_timesteps - 1, -1, -1)

    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """Sample q(x_t | x0) with the given standard normal ``noise``; ``t`` is (B,) int."""
        abar = _per_sample(self.alphas_cumprod, t, x0)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def predict_x0(self, eps: Tensor, t: int, x_t: Tensor) -> Tensor:
        """The clean image implied by the noise prediction ``eps`` at step ``t``."""
        abar = float(self.alphas_cumprod[t])
        x0 = (x_t - math.sqrt(1 - abar) * eps) / math.sqrt(abar)
        return x0.clamp(-1, 1) if self.clip_sample else x0

    def step(self, eps: Tensor, t: int, x_t: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One ancestral step x_t -> x_{t-1} from the model's noise prediction ``eps``."""
        x0 = self.predict_x0(eps, t, x_t)
        mean = float(self.coef_x0[t]) * x0 + float(self.coef_xt[t]) * x_t
        if t == 0:
            return mean
        noise = torch.randn(x_t.shape, generator=generator, dtype=x_t.dtype).to(x_t.device)
        return mean + math.sqrt(float(self.posterior_variance[t])) * noise


def _per_sample(values: Tensor, t: Tensor, like: Tensor) -> Tensor:
    """``values[t]`` shaped (B, 1, 1, ...) to broadcast over a batch like ``like``."""
    out = values.to(like.device)[t.to(like.device)].to(like.dtype)
    return out.view(-1, *([1] * (like.dim() - 1)))
