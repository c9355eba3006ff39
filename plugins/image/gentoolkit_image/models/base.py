"""The contract every image model family implements, and the helpers they share.

An :class:`ImageModel` works on images in [0, 1] of shape (C, H, W). It builds its own
optimizers, does its own backward and optimizer steps in ``training_step`` (a GAN alternates two
networks, a WGAN adds a penalty) and samples new images. The generic loop in ``training.py``
drives any of them the same way.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, TypeVar

import torch
from torch import Tensor

from gentoolkit.errors import ConfigError

P = TypeVar("P")


class ImageModel(torch.nn.Module, ABC):
    """One generative model family on images in [0, 1], shape (C, H, W)."""

    family: ClassVar[str]  # "vae", "gan", "realnvp", "glow", "pixelcnn", "ddpm", "cyclegan"

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int = 0, **params: Any):
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        self.num_classes = int(num_classes)  # > 0: class-conditional
        self.params = dict(params)  # JSON-able hyperparameters, saved with every checkpoint
        self._scaler: torch.amp.GradScaler | None = None

    @classmethod
    def parse_params(cls, params_class: type[P], params: dict[str, Any]) -> P:
        """``params`` as the family's parameters dataclass; an unknown key is a ConfigError naming it."""
        try:
            return params_class(**params)
        except TypeError as err:
            raise ConfigError(f"{cls.family}: {err}") from None

    @abstractmethod
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers by name (a GAN has two: "generator" and "discriminator")."""

    @abstractmethod
    def training_step(self, x: Tensor, y: Tensor | None, optimizers: dict[str, torch.optim.Optimizer],
                      runtime: Any) -> dict[str, float]:
        """One update on batch ``x`` (labels ``y`` or None): backward and step inside, under
        ``runtime.autocast()``. Returns the losses to plot, by name."""

    @abstractmethod
    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` new images (n, C, H, W) in [0, 1]; ``y`` picks classes of a conditional model."""

    def log_likelihood(self, x: Tensor, y: Tensor | None = None) -> Tensor | None:
        """Exact log-likelihood (B,) in nats per discrete image, or None when the family has none."""
        return None

    def config(self) -> dict[str, Any]:
        """What ``create_model`` needs to rebuild this model; stored in checkpoint metadata."""
        return {"family": self.family, "image_shape": list(self.image_shape),
                "num_classes": self.num_classes, "params": dict(self.params)}

    # --- helpers for subclasses ------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def num_dims(self) -> int:
        """Pixels times channels: the 'dim' of bits per dim."""
        return math.prod(self.image_shape)

    def optimize(self, loss: Tensor, optimizer: torch.optim.Optimizer, runtime: Any,
                 clip_norm: float | None = None) -> None:
        """Zero grads, backward, average gradients over ranks, clip, step (fp16-scaled when asked).

        Gradients are averaged by hand rather than through DDP, so a family is free to call its
        sub-networks in any order within ``training_step``.
        """
        if self._scaler is None:
            self._scaler = runtime.grad_scaler()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        optimizer.zero_grad(set_to_none=True)
        self._scaler.scale(loss).backward()
        if runtime.distributed:
            import torch.distributed as dist

            for p in params:
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad /= runtime.world_size
        if clip_norm is not None:
            self._scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, clip_norm)
        self._scaler.step(optimizer)
        self._scaler.update()

    def labels_for(self, n: int, y: Tensor | None, generator: torch.Generator | None = None) -> Tensor | None:
        """The labels to sample with: ``y`` if given, uniform random classes for a conditional
        model, None for an unconditional one."""
        if y is not None or not self.num_classes:
            return None if y is None else y.to(self.device)
        return torch.randint(self.num_classes, (n,), generator=generator).to(self.device)


def bits_per_dim(log_likelihood: Tensor, num_dims: int) -> Tensor:
    """Negative log-likelihood in nats per image -> bits per dimension."""
    return -log_likelihood / (num_dims * math.log(2))
