"""AnoDDPM (Wyatt et al. 2022): noise an item part way with a diffusion model trained on normal
items, denoise it back, and score the squared reconstruction error. A normal item comes back
close to itself; an anomaly is pulled toward what the model knows.

The model is any registered one with the core's ``PartialDenoiser`` capability (``image-ddpm``),
built and trained like the generative detector's model, or a saved one. ``noise="simplex"`` builds
it with the paper's multi-octave simplex noise (its ``noise`` param), for training and noising.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gentoolkit.errors import ConfigError
from gentoolkit.protocols import PartialDenoiser
from gentoolkit_anomaly.generative import GenerativeDetector, _is_saved

NOISES = ("gaussian", "simplex")


class AnoDDPMDetector(GenerativeDetector):
    """Squared error between x and the model's ``denoise_from(x, t)``, ``t = noise_step``, averaged
    over ``repeats`` noise draws (seeded by ``seed``, the same for every item); ``noise`` is the
    model's: gaussian or simplex."""

    registered_name = "anomaly-anoddpm"

    def __init__(self, model: str = "image-ddpm", params: dict | None = None, noise_step: int = 250,
                 repeats: int = 1, noise: str = "gaussian", epochs: int = 100, batch_size: int = 32,
                 device: str = "cpu", seed: int = 0, contamination: float = 0.1, toolkit: Any = None):
        super().__init__(model, params, "auto", epochs, batch_size, device, seed, contamination, None, toolkit)
        self.noise_step = noise_step
        self.repeats = repeats
        self.noise = noise

    def _fit(self, X: np.ndarray) -> None:
        self.model_ = self._trained_model(X, X, self._model_params())
        if not isinstance(self.model_, PartialDenoiser):
            raise ConfigError(f"AnoDDPM noises and denoises items: {self.model!r} has no denoise_from(x, t) "
                              "(a diffusion model such as image-ddpm has).")
        if not 0 <= self.noise_step < self.model_.num_timesteps or self.repeats < 1:
            raise ConfigError(f"AnoDDPMDetector needs 0 <= noise_step < {self.model_.num_timesteps} (the model's "
                              f"steps) and repeats >= 1; got {self.noise_step} and {self.repeats}.")
        self.score_ = "anoddpm"

    def _model_params(self) -> dict:
        """``params`` with the model's ``noise`` set to ``self.noise``, or a clear error where it cannot be."""
        from gentoolkit.models import read_card

        if self.noise not in NOISES:
            raise ConfigError(f"noise must be one of {', '.join(NOISES)}; got {self.noise!r}.")
        params = dict(self.params or {})
        if _is_saved(self.model):
            trained = read_card(self.model).params.get("noise", "gaussian")
            if trained != self.noise:
                raise ConfigError(f"The saved model {self.model} was trained with {trained} noise, not {self.noise}: "
                                  f"give noise={trained!r}, or train a model with {self.noise} noise.")
            return params
        if "noise" not in self._toolkit().models.entry(self.model).value.param_schema():
            if self.noise == "gaussian":
                return params
            raise ConfigError(f"{self.model!r} has no noise param, so it cannot draw {self.noise} noise; use "
                              "image-ddpm, or noise='gaussian'.")
        if params.get("noise", self.noise) != self.noise:
            raise ConfigError(f"noise={self.noise!r} and params={{'noise': {params['noise']!r}}} disagree: give the "
                              "noise once, as the detector's noise.")
        return {**params, "noise": self.noise}

    def _anomaly_scores(self, X: np.ndarray) -> np.ndarray:
        import torch

        items = self._model_items(X)
        errors = np.zeros(len(items))
        for repeat in range(self.repeats):
            for start in range(0, len(items), self.batch_size):
                chunk = items[start:start + self.batch_size]
                generator = torch.Generator().manual_seed(self.seed * 1000 + repeat)
                restored = self.model_.denoise_from(chunk, self.noise_step, generator=generator)
                error = ((restored.double() - chunk.double()) ** 2).flatten(1).sum(1)
                errors[start:start + len(chunk)] += error.cpu().numpy()
        return errors / self.repeats
