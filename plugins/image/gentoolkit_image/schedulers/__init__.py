"""Noise schedulers for diffusion models, one per file as diffusers keeps them."""

from gentoolkit_image.schedulers.ddim import DDIMScheduler
from gentoolkit_image.schedulers.ddpm import DDPMScheduler, make_betas
from gentoolkit_image.schedulers.simplex import simplex_noise

__all__ = ["DDPMScheduler", "DDIMScheduler", "make_betas", "simplex_noise"]
