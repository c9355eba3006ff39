"""What every image model family shares, on top of the core's model contract.

An :class:`ImageModel` works on images in [0, 1] of shape (C, H, W) and implements the core's
``Trainable`` protocol (``configure_optimizers``, ``training_step(batch, optimizers, runtime)``,
driven by ``gentoolkit.training.fit``). Generators add ``sample(n, *, condition, generator)``
(``Sampler``), families with a likelihood ``log_prob`` (``Density``), the VAE ``encode``/``decode``
(``Autoencoder``). A class-conditional model keeps its class names.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence, TypeVar

import torch
from torch import Tensor

from gentoolkit import ConfigError, ItemSpec
from gentoolkit.conditioning import labels_for, marginal_log_prob
from gentoolkit.config import parse_params

P = TypeVar("P")


class ImageModel(torch.nn.Module, ABC):
    """One generative model family on images in [0, 1], shape (C, H, W)."""

    family: ClassVar[str]  # "vae", "gan", "realnvp", "glow", "pixelcnn", "ddpm", "cyclegan"

    def __init__(self, image_shape: Sequence[int], classes: Sequence[str] = (), **params: Any):
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ConfigError(f"{self.family}: image_shape must be (channels, height, width), got {image_shape!r}.")
        self.classes = tuple(str(c) for c in classes)  # names of a class-conditional model's classes
        self.params = dict(params)  # JSON-able hyperparameters

    @property
    def num_classes(self) -> int:
        """> 0 for a class-conditional model."""
        return len(self.classes)

    @property
    def item_spec(self) -> ItemSpec:
        return ItemSpec("image", self.image_shape, (0.0, 1.0), classes=self.classes)

    @classmethod
    def parse_params(cls, params_class: type[P], params: dict[str, Any]) -> P:
        """``params`` as the family's parameters dataclass; an unknown key is a ConfigError naming it."""
        return parse_params(params_class, params, cls.family)

    @abstractmethod
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers by name (a GAN has two: "generator" and "discriminator")."""

    @abstractmethod
    def training_step(self, batch: Any, optimizers: dict[str, torch.optim.Optimizer],
                      runtime: Any) -> dict[str, float]:
        """One update on ``batch`` = (images, labels): backward and step inside through
        ``runtime.optimize``, forward under ``runtime.autocast()``. Returns the losses by name."""

    # --- helpers for subclasses ------------------------------------------------------------------

    def unpack(self, batch: Any) -> tuple[Tensor, Tensor | None]:
        """(images, labels or None) of a training batch; labels only for a conditional model."""
        x, y = batch
        return x, (y if self.num_classes else None)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def num_dims(self) -> int:
        """Pixels times channels: the 'dim' of bits per dim."""
        return math.prod(self.image_shape)

    def labels_for(self, n: int, y: Any, generator: torch.Generator | None = None) -> Tensor | None:
        """The labels to sample with: ``y`` if given (checked), uniform random classes for a
        conditional model, None for an unconditional one."""
        return labels_for(y, n, self.classes, self.device, self.family, generator)

    def marginal(self, log_prob_given: Any, x: Tensor) -> Tensor:
        """log sum_y p(y) p(x | y) with p(y) uniform: a conditional model's density without labels."""
        return marginal_log_prob(log_prob_given, x, self.num_classes)


def bits_per_dim(log_likelihood: Tensor, num_dims: int) -> Tensor:
    """Negative log-likelihood in nats per image -> bits per dimension."""
    return -log_likelihood / (num_dims * math.log(2))
