"""What every audio model family shares, on top of the core's model contract.

An :class:`AudioModel` works on mono clips of ``length`` samples at ``sample_rate`` in [-1, 1]
and implements the core's ``Trainable`` protocol (trained by ``gentoolkit.training.fit``);
generators add ``sample`` (``Sampler``), families with a likelihood ``log_prob`` (``Density``).
A class-conditional model keeps its class names.
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


class AudioModel(torch.nn.Module, ABC):
    """One generative model family on waveforms (T,) in [-1, 1]."""

    family: ClassVar[str]  # "wavenet", ...

    def __init__(self, length: int, sample_rate: int, classes: Sequence[str] = (), **params: Any):
        super().__init__()
        if int(length) < 1 or int(sample_rate) < 1:
            raise ConfigError(f"{self.family}: length and sample_rate must be positive, got {length} and {sample_rate}.")
        self.length, self.sample_rate = int(length), int(sample_rate)
        self.classes = tuple(str(c) for c in classes)
        self.params = dict(params)

    @property
    def num_classes(self) -> int:
        """> 0 for a class-conditional model."""
        return len(self.classes)

    @property
    def item_spec(self) -> ItemSpec:
        return ItemSpec("waveform", (self.length,), (-1.0, 1.0), sample_rate=self.sample_rate, classes=self.classes)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @classmethod
    def parse_params(cls, params_class: type[P], params: dict[str, Any]) -> P:
        """``params`` as the family's parameters dataclass; an unknown key is a ConfigError naming it."""
        return parse_params(params_class, params, cls.family)

    @abstractmethod
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers by name."""

    @abstractmethod
    def training_step(self, batch: Any, optimizers: dict[str, torch.optim.Optimizer],
                      runtime: Any) -> dict[str, float]:
        """One update on ``batch`` = (waveforms (B, T), labels) through ``runtime.optimize``."""

    def unpack(self, batch: Any) -> tuple[Tensor, Tensor | None]:
        """(waveforms, labels or None) of a training batch; labels only for a conditional model."""
        x, y = batch
        return x, (y if self.num_classes else None)

    def labels_for(self, n: int, y: Any, generator: torch.Generator | None = None) -> Tensor | None:
        """The labels to sample with: ``y`` if given (checked), uniform random classes for a
        conditional model, None for an unconditional one."""
        return labels_for(y, n, self.classes, self.device, self.family, generator)

    def marginal(self, log_prob_given: Any, x: Tensor) -> Tensor:
        """log sum_y p(y) p(x | y) with p(y) uniform: a conditional model's density without labels."""
        return marginal_log_prob(log_prob_given, x, self.num_classes)


def bits_per_sample(log_prob: Tensor, length: int) -> Tensor:
    """Log-likelihood in nats per clip -> bits per audio sample (8.0 is a uniform 8-bit model)."""
    return -log_prob / (length * math.log(2))
