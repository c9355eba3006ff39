"""Deep SVDD (Ruff et al. 2018): a network maps normal items close to a centre; the score is the
squared distance to it.

One-class objective: mean ||phi(x) - c||^2 plus weight decay, with ``c`` the mean of phi over the
training items after an initial pass. The network has no bias terms and BatchNorm has no affine
shift (either would let phi collapse to the constant c). As in the paper, the weights may start
from an autoencoder pretrained on the same items (``pretrain_epochs``). Both stages are trained
by the core loop (``gentoolkit.training.fit``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gentoolkit.errors import ConfigError
from gentoolkit_anomaly.base import BaseDetector
from gentoolkit_anomaly.generative import train

CENTRE_EPS = 0.1  # Ruff et al.: centre coordinates this close to 0 are pushed to +-eps


class DeepSVDDDetector(BaseDetector):
    """Anomaly score ||phi(x) - c||^2 of a bias-free network trained with the one-class objective.

    Images (n, C, H, W) get a convolutional network (LeNet-style, as in the paper), feature vectors
    an MLP; ``rep_dim`` is the size of phi(x), ``width`` the first layer's channels or units.
    """

    registered_name = "anomaly-deep-svdd"

    def __init__(self, rep_dim: int = 32, width: int = 16, epochs: int = 150, pretrain_epochs: int = 100,
                 batch_size: int = 32, lr: float = 1e-3, weight_decay: float = 1e-6, device: str = "cpu",
                 seed: int = 0, contamination: float = 0.1):
        self.rep_dim = rep_dim
        self.width = width
        self.epochs = epochs
        self.pretrain_epochs = pretrain_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.device = device
        self.seed = seed
        self.contamination = contamination

    def _fit(self, X: np.ndarray) -> None:
        if self.rep_dim < 1 or self.width < 1 or self.epochs < 1 or self.pretrain_epochs < 0:
            raise ConfigError(f"DeepSVDDDetector needs rep_dim, width and epochs >= 1 and pretrain_epochs >= 0; "
                              f"got {self.rep_dim}, {self.width}, {self.epochs} and {self.pretrain_epochs}.")
        with torch.random.fork_rng(devices=[]):  # initial weights from `seed`, the caller's RNG untouched
            torch.manual_seed(self.seed)
            self.network_ = SVDDNetwork(self.item_shape_, self.rep_dim, self.width, self.lr, self.weight_decay,
                                        autoencoder=self.pretrain_epochs > 0).to(self.device)
        items = torch.as_tensor(X, dtype=torch.float32)
        if self.pretrain_epochs:
            train(self.network_, items, None, self.pretrain_epochs, self.batch_size, self.device, self.seed)
        self.network_.set_centre(self.network_.features(items))
        train(self.network_, items, None, self.epochs, self.batch_size, self.device, self.seed)
        self.centre_ = self.network_.centre.cpu().numpy().astype(np.float64)

    def _anomaly_scores(self, X: np.ndarray) -> np.ndarray:
        items = torch.as_tensor(X, dtype=torch.float32)
        return self.network_.distances(items).double().cpu().numpy()

    def _save_state(self, folder: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        weights = {f"network.{k}": v.cpu().numpy() for k, v in self.network_.encoder.state_dict().items()}
        return {**weights, "centre_": self.centre_}, {}

    def _load_state(self, folder, arrays, values, toolkit, device) -> None:
        network = SVDDNetwork(tuple(values["item_shape_"]), self.rep_dim, self.width, self.lr, self.weight_decay)
        network.encoder.load_state_dict({k[len("network."):]: torch.from_numpy(np.array(v)) for k, v in arrays.items()
                                         if k.startswith("network.")})
        self.centre_ = arrays["centre_"]
        network.set_centre(torch.as_tensor(self.centre_, dtype=torch.float32), adjust=False)
        self.network_ = network.to(device).eval()


class SVDDNetwork(nn.Module):
    """phi (``encoder``), an optional decoder for the pretraining stage, and the centre ``c``.

    Trainable by the core loop: before ``set_centre`` a step minimises the autoencoder's squared
    error, after it the one-class loss mean ||phi(x) - c||^2 (Adam's weight decay is the paper's
    regulariser on the weights).
    """

    def __init__(self, item_shape: tuple[int, ...], rep_dim: int, width: int, lr: float, weight_decay: float,
                 autoencoder: bool = False):
        super().__init__()
        self.item_shape, self.lr, self.weight_decay = tuple(item_shape), lr, weight_decay
        features = math.prod(self.item_shape)
        if len(self.item_shape) == 3 and min(self.item_shape[1:]) >= 4:
            self.encoder = _conv_encoder(self.item_shape, rep_dim, width)
        else:
            self.encoder = _mlp(features, 4 * width, rep_dim)
        self.decoder = _mlp(rep_dim, 4 * width, features) if autoencoder else None
        self.register_buffer("centre", torch.zeros(rep_dim))
        self.one_class = False

    def features(self, x: Tensor) -> Tensor:
        """phi(x) (B, rep_dim) in evaluation mode (running BatchNorm statistics)."""
        self.eval()
        with torch.no_grad():
            return torch.cat([self.encoder(chunk.to(self.centre.device)) for chunk in x.split(256)])

    def distances(self, x: Tensor) -> Tensor:
        """||phi(x) - c||^2 per item (B,)."""
        return ((self.features(x) - self.centre) ** 2).sum(1)

    def set_centre(self, phi: Tensor, adjust: bool = True) -> None:
        """c = the mean of ``phi``; coordinates near 0 pushed to +-eps (a zero c is a trivial fit).
        Switches training to the one-class loss."""
        centre = phi.mean(0) if phi.ndim == 2 else phi
        if adjust:
            small = centre.abs() < CENTRE_EPS
            centre = torch.where(small, torch.where(centre < 0, -CENTRE_EPS, CENTRE_EPS), centre)
        self.centre.copy_(centre)
        self.one_class = True

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        parameters = self.parameters() if not self.one_class else self.encoder.parameters()
        return {"svdd": torch.optim.Adam(parameters, lr=self.lr, weight_decay=self.weight_decay)}

    def training_step(self, batch: Any, optimizers: dict, runtime: Any) -> dict[str, float]:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        phi = self.encoder(x)
        if self.one_class:
            loss = ((phi - self.centre) ** 2).sum(1).mean()
        else:
            loss = ((self.decoder(phi) - x.flatten(1)) ** 2).sum(1).mean()
        runtime.optimize(loss, optimizers["svdd"])
        return {"loss": loss.item()}


def _conv_encoder(shape: tuple[int, ...], rep_dim: int, width: int) -> nn.Sequential:
    """Two bias-free conv blocks (conv, BatchNorm without affine, leaky ReLU, 2x2 max-pool), then
    a bias-free linear map to ``rep_dim``: Ruff et al.'s LeNet for MNIST, sized to the items."""
    channels, height, width_px = shape
    layers: list[nn.Module] = []
    c_in = channels
    for c_out in (width, width // 2 or 1):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out, eps=1e-4, affine=False),
                   nn.LeakyReLU(0.1), nn.MaxPool2d(2)]
        c_in, height, width_px = c_out, height // 2, width_px // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in * height * width_px, rep_dim, bias=False))


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    """Bias-free: linear, BatchNorm without affine, leaky ReLU, linear."""
    return nn.Sequential(nn.Flatten(), nn.Linear(n_in, hidden, bias=False),
                         nn.BatchNorm1d(hidden, eps=1e-4, affine=False), nn.LeakyReLU(0.1),
                         nn.Linear(hidden, n_out, bias=False))
