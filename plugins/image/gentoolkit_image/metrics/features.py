"""Feature networks for FID, KID, IS, precision/recall and class coverage.

Inception-v3 weights cannot be downloaded here, so the default is a small CNN classifier trained
on the dataset itself; one trained on scikit-learn's digits ships in ``gentoolkit_image/data``.
Its penultimate layer gives the features, its softmax the class probabilities. A user who has
Inception-v3 locally (e.g. clean-fid's TorchScript ``inception-2015-12-05.pt``) can point
``features`` at that file instead. Every metric result names the features it used.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gentoolkit.errors import GentoolkitError

DIGITS_CLASSIFIER = "digits_classifier"
FEATURE_DIM = 64


class Classifier(nn.Module):
    """conv-conv-pool-conv, pooled to 4x4, then a 64-d feature layer and the class logits.

    Features are returned times ``feature_scale``, set after training so that their mean square
    on the training images is 1: KID's polynomial kernel (x·y / d + 1)³ then sees values of the
    size it was designed for, whatever scale the layer learned.
    """

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, width: int = 32):
        super().__init__()
        self.image_shape, self.num_classes = tuple(image_shape), num_classes
        c = image_shape[0]
        self.body = nn.Sequential(
            nn.Conv2d(c, width, 3, 1, 1), nn.ReLU(), nn.Conv2d(width, 2 * width, 3, 1, 1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Conv2d(2 * width, 2 * width, 3, 1, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * width * 16, FEATURE_DIM), nn.ReLU())
        self.head = nn.Linear(FEATURE_DIM, num_classes)
        self.register_buffer("feature_scale", torch.ones(()))

    def fit_input(self, x: Tensor) -> Tensor:
        """Resize images of another size to the size the classifier was trained on."""
        if x.shape[1:] != self.image_shape:
            if x.shape[1] != self.image_shape[0]:
                raise GentoolkitError(f"The feature classifier expects {self.image_shape[0]} channel(s), "
                                      f"the images have {x.shape[1]}.")
            x = F.interpolate(x, size=self.image_shape[1:], mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.image_shape[-1])
        return x

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # -> features (B, 64), logits (B, K)
        features = self.body(self.fit_input(x))
        return features * self.feature_scale, self.head(features)


@dataclass
class FeatureNetwork:
    """Images in [0, 1] -> features (N, D) and class probabilities (N, K) as numpy arrays."""

    name: str
    embed: Callable[[Tensor], tuple[Tensor, Tensor | None]]
    num_classes: int

    @torch.no_grad()
    def __call__(self, images: Tensor, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray | None]:
        features, probs = [], []
        for batch in images.split(batch_size):
            f, p = self.embed(batch.float())
            features.append(f.double().cpu().numpy())
            probs.append(None if p is None else p.double().cpu().numpy())
        return np.concatenate(features), None if probs[0] is None else np.concatenate(probs)


def classifier_network(model: Classifier, name: str) -> FeatureNetwork:
    model.eval()

    def embed(x: Tensor) -> tuple[Tensor, Tensor]:
        features, logits = model(x.to(next(model.parameters()).device))
        return features, logits.softmax(-1)

    return FeatureNetwork(name, embed, model.num_classes)


def train_classifier(images: Tensor, labels: Tensor, num_classes: int, epochs: int = 30, batch_size: int = 64,
                     seed: int = 0, log: Callable[[str], None] | None = None) -> Classifier:
    """A :class:`Classifier` trained with Adam on ``images`` (N, C, H, W), with random one-pixel
    shifts so its features do not hinge on exact alignment. Seeded by ``seed`` alone: initial
    weights and dropout draw from a fork of the global RNG, so the caller's stream is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model = Classifier(tuple(images.shape[1:]), num_classes)
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(images), generator=generator)
            total = 0.0
            for index in order.split(batch_size):
                x = images[index]
                dx, dy = torch.randint(-1, 2, (2,), generator=generator).tolist()
                x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
                loss = F.cross_entropy(model(x)[1], labels[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(index)
            schedule.step()
            if log:
                log(f"classifier epoch {epoch + 1}/{epochs}: loss {total / len(images):.4f}")
        model.eval()
        with torch.no_grad():
            features = torch.cat([model(x)[0] for x in images.split(256)])
            model.feature_scale.fill_(float(features.pow(2).mean().rsqrt()))
        return model


@torch.no_grad()
def accuracy(model: Classifier, images: Tensor, labels: Tensor) -> float:
    model.eval()
    return float((model(images)[1].argmax(-1) == labels).float().mean())


def save_classifier(model: Classifier, path: Path, card: dict[str, Any]) -> None:
    """Weights as safetensors, shape and card (accuracy, data) as JSON beside them."""
    from safetensors.torch import save_file

    save_file(model.state_dict(), str(path.with_suffix(".safetensors")))
    meta = {"image_shape": list(model.image_shape), "num_classes": model.num_classes, **card}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")


def load_classifier(path: Path) -> tuple[Classifier, dict[str, Any]]:
    from safetensors.torch import load_file

    meta = json.loads(path.with_suffix(".json").read_text())
    model = Classifier(tuple(meta["image_shape"]), meta["num_classes"])
    model.load_state_dict(load_file(str(path.with_suffix(".safetensors"))))
    return model.eval(), meta


def digits_classifier() -> tuple[Classifier, dict[str, Any]]:
    """The shipped classifier for scikit-learn's digits, and its card."""
    return load_classifier(Path(str(resources.files("gentoolkit_image") / "data" / DIGITS_CLASSIFIER)))


def torchscript_network(path: str | Path) -> FeatureNetwork:
    """A feature network from a local TorchScript file, such as clean-fid's Inception-v3
    (``inception-2015-12-05.pt``: images in [0, 255], ``return_features=True`` gives 2048-d pool
    features, the plain call class probabilities). Grey images are repeated to three channels."""
    path = Path(path)
    if not path.is_file():
        raise GentoolkitError(f"Feature network file {path} does not exist; give a local TorchScript "
                              "Inception-v3, or use features = \"digits-cnn\" / \"dataset-cnn\".")
    try:
        with warnings.catch_warnings():  # torch deprecates TorchScript, but clean-fid's Inception is one
            warnings.simplefilter("ignore", FutureWarning)
            model = torch.jit.load(str(path), map_location="cpu").eval()
    except RuntimeError as err:
        raise GentoolkitError(f"{path} is not a TorchScript model ({err}).") from err

    def embed(x: Tensor) -> tuple[Tensor, Tensor]:
        x = (x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x) * 255
        features, probs = model(x, return_features=True), model(x)
        return features.flatten(1), probs if torch.allclose(probs.sum(-1), torch.ones(1)) else probs.softmax(-1)

    probe = embed(torch.zeros(1, 3, 32, 32))[1]
    return FeatureNetwork(f"torchscript:{path.name}", embed, probe.shape[-1])
