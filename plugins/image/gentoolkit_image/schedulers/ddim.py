"""DDIM sampling (Song et al. 2021): the DDPM-trained noise model, walked in fewer steps.

With ``eta = 0`` each step is deterministic, so one starting noise always gives one image;
``eta = 1`` recovers DDPM-like stochastic steps on the shortened schedule.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gentoolkit.errors import ConfigError
from gentoolkit_image.schedulers.ddpm import make_betas


class DDIMScheduler:
    """Reverse steps over an evenly spaced subset of the T training timesteps."""

    def __init__(self, num_train_timesteps: int = 1000, beta_schedule: str = "linear",
                 beta_start: float = 1e-4, beta_end: float = 0.02, clip_sample: bool = True):
        self.num_train_timesteps = num_train_timesteps
        self.clip_sample = clip_sample
        betas = make_betas(num_train_timesteps, beta_schedule, beta_start, beta_end)
        self.alphas_cumprod = torch.cumprod(1 - betas, dim=0)
        self.timesteps = torch.arange(num_train_timesteps - 1, -1, -1)

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Use ``num_inference_steps`` evenly spaced timesteps, from T-1 down to 0."""
        if not 1 <= num_inference_steps <= self.num_train_timesteps:
            raise ConfigError(f"DDIM steps must be in 1..{self.num_train_timesteps}, got {num_inference_steps}.")
        grid = torch.linspace(0, self.num_train_timesteps - 1, num_inference_steps).round().long()
        self.timesteps = grid.flip(0)

    def previous_timestep(self, t: int) -> int:
        """The timestep after ``t`` in the current schedule, -1 after the last."""
        later = self.timesteps[self.timesteps < t]
        return int(later[0]) if len(later) else -1

    def step(self, eps: Tensor, t: int, x_t: Tensor, eta: float = 0.0,
             generator: torch.Generator | None = None) -> Tensor:
        """One DDIM step x_t -> x_prev (Song et al. eq. 12) from the noise prediction ``eps``."""
        prev = self.previous_timestep(t)
        abar = float(self.alphas_cumprod[t])
        abar_prev = float(self.alphas_cumprod[prev]) if prev >= 0 else 1.0
        x0 = (x_t - math.sqrt(1 - abar) * eps) / math.sqrt(abar)
        if self.clip_sample:
            x0 = x0.clamp(-1, 1)
            eps = (x_t - math.sqrt(abar) * x0) / math.sqrt(1 - abar)
        sigma = eta * math.sqrt((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev))
        x_prev = math.sqrt(abar_prev) * x0 + math.sqrt(max(1 - abar_prev - sigma**2, 0.0)) * eps
        if sigma > 0:
            noise = torch.randn(x_t.shape, generator=generator, dtype=x_t.dtype).to(x_t.device)
            x_prev = x_prev + sigma * noise
        return x_prev
