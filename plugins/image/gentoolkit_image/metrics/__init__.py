"""Measure generated images against real ones, every family the same way.

``evaluate_images`` computes FID, KID, IS, precision/recall and class coverage on one feature
network, the Parzen log-likelihood in pixel space, bits/dim for exact-likelihood models, and the
same FID/KID between two real sets (the floor a perfect model would reach with as many images).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from gentoolkit.errors import ConfigError

from gentoolkit_image.metrics.coverage import class_coverage
from gentoolkit_image.metrics.features import (FeatureNetwork, classifier_network, digits_classifier,
                                               torchscript_network, train_classifier)
from gentoolkit_image.metrics.fid_kid_is import frechet_distance, inception_score, kernel_distance
from gentoolkit_image.metrics.parzen import parzen_log_likelihood
from gentoolkit_image.metrics.precision_recall import precision_recall

FEATURE_CHOICES = ("auto", "digits-cnn", "dataset-cnn", "<path to a TorchScript Inception-v3>")


def feature_network(spec: str, dataset_name: str, train: Any = None,
                    log: Callable[[str], None] | None = None) -> FeatureNetwork:
    """The network named by ``spec``: "digits-cnn" (shipped), "dataset-cnn" (a classifier trained
    now on ``train``), a TorchScript file path, or "auto" (digits-cnn on digits, else dataset-cnn)."""
    if spec == "auto":
        spec = "digits-cnn" if dataset_name == "digits" else "dataset-cnn"
    if spec == "digits-cnn":
        return classifier_network(digits_classifier()[0], "digits-cnn")
    if spec == "dataset-cnn":
        if train is None or train.labels is None:
            raise ConfigError("features = \"dataset-cnn\" trains a classifier on the dataset's labels, and this "
                              "dataset has none: give labelled data (one subfolder per class) or a TorchScript "
                              "feature network.")
        model = train_classifier(train.images, train.labels, train.num_classes, epochs=10, log=log)
        return classifier_network(model, f"dataset-cnn:{dataset_name}")
    if spec.endswith((".pt", ".pth", ".ts")) or Path(spec).is_file():
        return torchscript_network(spec)
    raise ConfigError(f"Unknown feature network {spec!r}; use one of {', '.join(FEATURE_CHOICES)}.")


def _head(a: np.ndarray, n: int) -> np.ndarray:
    return a[: min(n, len(a))]


def _pixels(images: Tensor) -> np.ndarray:
    """Images as flat float64 rows, the space the Parzen window works in."""
    return images.flatten(1).double().cpu().numpy()


def evaluate_images(samples: Tensor, test: Tensor, train: Tensor, network: FeatureNetwork,
                    model: Any = None, kid_subsets: int = 100, seed: int = 0) -> dict[str, Any]:
    """All image metrics for ``samples`` (N, C, H, W) against the held-out ``test`` images; the
    floor compares as many ``train`` images as there are samples with the same test images."""
    rng = np.random.default_rng(seed)
    floor = train[torch.as_tensor(rng.choice(len(train), min(len(samples), len(train)), replace=False))]
    f_gen, p_gen = network(samples)
    f_test, p_test = network(test)
    f_floor, _ = network(floor)
    kid, kid_std = kernel_distance(f_gen, f_test, kid_subsets, seed=seed)
    n = min(len(f_gen), len(f_test))  # precision/recall compare sets of equal size
    metrics: dict[str, Any] = {
        "features": network.name,
        "num_samples": len(samples), "num_test": len(test),
        "fid": frechet_distance(f_gen, f_test),
        "fid_real_floor": frechet_distance(f_floor, f_test),
        "kid": kid, "kid_std": kid_std,
        "kid_real_floor": kernel_distance(f_floor, f_test, kid_subsets, seed=seed)[0],
        **precision_recall(_head(f_test, n), _head(f_gen, n)),
    }
    if p_gen is not None:
        metrics["inception_score"], metrics["inception_score_std"] = inception_score(p_gen)
        metrics["inception_score_real"] = inception_score(p_test)[0]
        metrics.update(class_coverage(p_gen.argmax(1), network.num_classes))
    half = len(test) // 2  # Parzen: bandwidth on one half of the held-out images, score on the other
    metrics.update(parzen_log_likelihood(_pixels(samples), _pixels(test[:half]), _pixels(test[half:])))
    if model is not None:
        metrics.update(likelihood_metrics(model, test))
    return metrics


@torch.no_grad()
def likelihood_metrics(model: Any, images: Tensor, batch_size: int = 256) -> dict[str, Any]:
    """Test negative log-likelihood (nats per image) of a ``Density`` model, which kind it is
    (exact, bound, dequantized), and bits/dim when it is a likelihood of the discrete images
    (the model has ``levels``; the VAE's Bernoulli ELBO on grey values is not). Empty otherwise."""
    from gentoolkit import Density

    from gentoolkit_image.models.base import bits_per_dim

    if not isinstance(model, Density):
        return {}
    model.eval()
    ll = torch.cat([model.log_prob(batch).double().cpu() for batch in images.split(batch_size)])
    metrics: dict[str, Any] = {"nll_nats": float(-ll.mean()), "likelihood": model.likelihood_kind}
    if "levels" in getattr(model, "params", {}):
        metrics["bits_per_dim"] = float(bits_per_dim(ll, images[0].numel()).mean())
    return metrics


def evaluator(metric: str) -> Callable[..., dict[str, Any]]:
    """A stand-alone evaluator for the registry: ``evaluate(samples, reference=None,
    features="digits-cnn")`` with samples (N, C, H, W) in [0, 1]; the reference defaults to the
    digits test split. Results name the features they used."""

    def evaluate(samples: Tensor, reference: Tensor | None = None, features: str = "digits-cnn",
                 **params: Any) -> dict[str, Any]:
        from gentoolkit_image.data import load_digits

        samples = torch.as_tensor(samples).float()
        reference = load_digits("test", size=samples.shape[-1]).images if reference is None else reference
        if metric == "parzen":
            half = len(reference) // 2
            return parzen_log_likelihood(_pixels(samples), _pixels(reference[:half]), _pixels(reference[half:]))
        network = feature_network(features, "digits")
        f_gen, p_gen = network(samples)
        f_ref, _ = network(reference)
        result: dict[str, Any] = {"features": network.name}
        if metric == "fid":
            result["fid"] = frechet_distance(f_gen, f_ref)
        elif metric == "kid":
            result["kid"], result["kid_std"] = kernel_distance(f_gen, f_ref, **params)
        elif metric == "inception-score":
            result["inception_score"], result["inception_score_std"] = inception_score(p_gen, **params)
        elif metric == "precision-recall":
            result.update(precision_recall(f_ref, f_gen, **params))
        elif metric == "class-coverage":
            result.update(class_coverage(p_gen.argmax(1), network.num_classes))
        return result

    return evaluate

