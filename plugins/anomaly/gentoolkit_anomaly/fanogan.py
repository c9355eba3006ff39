"""f-AnoGAN (Schlegl et al. 2019): a GAN trained on normal items, an encoder trained to invert its
generator, and the score A(x) = ||x - G(E(x))||^2 / n + kappa ||f(x) - f(G(E(x)))||^2 / n_f.

The GAN is any registered model with the core's ``LatentGenerator`` capability (``image-gan``;
train it with ``params = {loss = "wgan-gp"}`` as the paper does), built and trained like the
generative detector's model, or a saved one. The encoder is trained with the generator and
critic frozen (the paper's izi_f training), by the core loop.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gentoolkit.errors import ConfigError
from gentoolkit.protocols import LatentGenerator
from gentoolkit_anomaly.generative import GenerativeDetector, train


class FAnoGANDetector(GenerativeDetector):
    """Residual plus ``kappa`` times the critic-feature residual of x against G(E(x)).

    ``model``/``params``/``epochs`` build and train the GAN (or ``model`` is a saved one);
    ``encoder_epochs`` train the encoder E, a small convolutional network of ``width`` channels.
    """

    registered_name = "anomaly-f-anogan"

    def __init__(self, model: str = "image-gan", params: dict | None = None, kappa: float = 1.0,
                 epochs: int = 100, encoder_epochs: int = 100, width: int = 32, lr: float = 1e-3,
                 batch_size: int = 32, device: str = "cpu", seed: int = 0, contamination: float = 0.1,
                 toolkit: Any = None):
        super().__init__(model, params, "auto", epochs, batch_size, device, seed, contamination, None, toolkit)
        self.kappa = kappa
        self.encoder_epochs = encoder_epochs
        self.width = width
        self.lr = lr

    def _fit(self, X: np.ndarray) -> None:
        if self.encoder_epochs < 1 or self.kappa < 0:
            raise ConfigError(f"FAnoGANDetector needs encoder_epochs >= 1 and kappa >= 0; got {self.encoder_epochs} "
                              f"and {self.kappa}.")
        self.model_ = self._trained_model(X, X)
        if not isinstance(self.model_, LatentGenerator):
            raise ConfigError(f"f-AnoGAN inverts a generator: {self.model!r} has no generate(z) and critic_features(x) "
                              "(a GAN such as image-gan has).")
        self.score_ = "f-anogan"
        self.encoder_ = self._new_encoder()
        self.encoder_.gan = self.model_  # not a submodule: frozen, and not in the encoder's checkpoint
        train(self.encoder_, self._model_items(X), self._toolkit(), self.encoder_epochs, self.batch_size,
              self.device, self.seed)

    def _new_encoder(self) -> Encoder:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return Encoder(tuple(self.model_.item_spec.shape), self.model_.latent_shape, self.width, self.kappa,
                           self.lr).to(self.device)

    def _anomaly_scores(self, X: np.ndarray) -> np.ndarray:
        items = self._model_items(X)
        return torch.cat([self.encoder_.residuals(chunk) for chunk in items.split(256)]).double().cpu().numpy()

    def _save_state(self, folder: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, values = super()._save_state(folder)
        weights = {f"encoder.{k}": v.cpu().numpy() for k, v in self.encoder_.state_dict().items()}
        return {**arrays, **weights}, values

    def _load_state(self, folder, arrays, values, toolkit, device) -> None:
        super()._load_state(folder, arrays, values, toolkit, device)
        self.encoder_ = self._new_encoder().to(device)
        self.encoder_.load_state_dict({k[len("encoder."):]: torch.from_numpy(np.array(v)) for k, v in arrays.items()
                                       if k.startswith("encoder.")})
        self.encoder_.gan = self.model_
        self.encoder_.eval()


class Encoder(nn.Module):
    """E: items -> codes (two stride-2 convolutions, a linear map), trained with the generator and
    critic frozen to minimise the f-AnoGAN residual of its own reconstructions."""

    gan: Any

    def __init__(self, item_shape: tuple[int, ...], latent_shape: tuple[int, ...], width: int, kappa: float,
                 lr: float):
        super().__init__()
        channels, height, width_px = item_shape
        self.latent_shape, self.kappa, self.lr = tuple(latent_shape), kappa, lr
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2), nn.Flatten(),
            nn.Linear(2 * width * (height // 4) * (width_px // 4), math.prod(self.latent_shape)))

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "gan":  # kept out of the module tree: no parameters, state or train() of the GAN's
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).view(len(x), *self.latent_shape)

    def residuals(self, x: Tensor, reduce: bool = True) -> Tensor:
        """A(x) per item (B,): mean squared residual plus kappa times the mean squared critic-feature residual."""
        self.gan.eval()
        with torch.set_grad_enabled(self.training):
            restored = self.gan.generate(self(x))
            residual = ((x - restored) ** 2).flatten(1).mean(1)
            if self.kappa:
                features = self.gan.critic_features(torch.cat([x, restored]))
                residual = residual + self.kappa * ((features[:len(x)] - features[len(x):]) ** 2).mean(1)
        return residual

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        self.gan.requires_grad_(False)
        return {"encoder": torch.optim.Adam(self.parameters(), lr=self.lr)}

    def training_step(self, batch: Any, optimizers: dict, runtime: Any) -> dict[str, float]:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        loss = self.residuals(x).mean()
        runtime.optimize(loss, optimizers["encoder"])
        return {"loss": loss.item()}
