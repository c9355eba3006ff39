"""DAGAN's setting on a labelled budget: the rest of the pool as unlabelled data (labels dropped).

A generator: an autoencoder from the registry trained once on the whole pool without labels,
then ``k`` variations of every labelled image, labelled with its class (DAGAN's "variations of a
given item"), filtered and mixed like the budget generator's samples. ``neighbours``: decoded from
its code moved a random fraction (up to ``step``) of the way to the code of one of its
``latent_neighbours`` nearest pool images, so variations follow directions the data really vary
in; ``noise``: its code plus Gaussian noise (``noise`` × the pool codes' per-dimension SD).
Its honest peers use the same pool without a generator: self-training (scikit-learn's
``SelfTrainingClassifier`` around the same logistic regression) and label spreading (k-NN graph)
whose pool labels train the same logistic regression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gentoolkit_augmentation import pipeline
from gentoolkit_augmentation.report import (POOL_CLASSICAL_FILTERED, POOL_FILTERED, POOL_GENERATED,
                                            POOL_SELF_TRAINING_FILTERED, POOL_SPREADING_FILTERED, SELF_TRAINING,
                                            SPREADING)

METHODS = (POOL_GENERATED, POOL_FILTERED, POOL_CLASSICAL_FILTERED, SELF_TRAINING, SPREADING,
           POOL_SELF_TRAINING_FILTERED, POOL_SPREADING_FILTERED)


@dataclass
class Pool:
    """The unlabelled pool, the autoencoder trained on it and the pool's codes (torch, (N, ...))."""

    x: np.ndarray
    model: Any
    codes: Any


def prepare(runtime: Any, config: dict[str, Any], pool_x: np.ndarray) -> Pool:
    """Train ``unlabelled.model`` (an autoencoder from the registry) on the pool without labels."""
    import torch

    from gentoolkit.protocols import Autoencoder
    from gentoolkit_augmentation.experiment import fit_generator

    spec = config["unlabelled"]
    settings = {**config, "generator": {"model": spec["model"], "params": spec["params"], "epochs": spec["epochs"],
                                        "batch_size": spec["batch_size"]}}
    model = fit_generator(runtime, settings, pool_x, np.zeros(len(pool_x), dtype=np.int64), [],
                          f"pool-{spec['model']}", config["split_seed"], conditional=False)
    if not isinstance(model, Autoencoder):
        raise pipeline.AugmentationError(
            f"unlabelled.model={spec['model']!r} cannot encode and decode (no Autoencoder capability), so it "
            "cannot make variations of a labelled image; pick one of `gentoolkit models --can encode`.")
    with torch.no_grad():
        codes = model.encode(torch.as_tensor(pool_x, dtype=torch.float32)).float().cpu()
    return Pool(pool_x, model, codes)


def variations(pool: Pool, x: np.ndarray, y: np.ndarray, spec: dict[str, Any],
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``spec["k"]`` variations of each labelled image (one of the pool's), labelled with its class."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        codes = pool.model.encode(torch.as_tensor(x, dtype=torch.float32)).float().cpu()
        codes = codes.repeat(spec["k"], *([1] * (codes.dim() - 1)))  # (k * N, ...)
        flat, pool_flat = codes.flatten(1), pool.codes.flatten(1)
        if spec["variation"] == "neighbours":
            m = min(spec["latent_neighbours"], len(pool_flat) - 1)
            near = torch.cdist(flat, pool_flat).topk(m + 1, largest=False).indices[:, 1:]  # the first is the image
            pick = near[torch.arange(len(flat)), torch.randint(0, m, (len(flat),), generator=generator)]
            step = spec["step"] * torch.rand(len(flat), 1, generator=generator)
            moved = flat + step * (pool_flat[pick] - flat)
        else:
            moved = flat + spec["noise"] * pool_flat.std(0) * torch.randn(flat.shape, generator=generator)
        fake = pool.model.decode(moved.reshape(codes.shape))
    return fake.float().cpu().numpy(), np.tile(y, spec["k"])


def self_training(config: dict[str, Any], x: np.ndarray, y: np.ndarray, unlabelled: np.ndarray) -> Any:
    """The same logistic regression, self-trained on the unlabelled rows (label -1) beside (x, y)."""
    from sklearn.semi_supervised import SelfTrainingClassifier

    from gentoolkit_augmentation.experiment import classifier

    rows = np.concatenate([pipeline.as_rows(x), pipeline.as_rows(unlabelled)])
    labels = np.concatenate([y, np.full(len(unlabelled), -1)])
    return SelfTrainingClassifier(classifier(config), threshold=config["unlabelled"]["threshold"]).fit(rows, labels)


def spread_labels(x: np.ndarray, y: np.ndarray, unlabelled: np.ndarray, neighbours: int) -> np.ndarray:
    """Labels of the unlabelled rows by label spreading over a k-NN graph of every row."""
    from sklearn.semi_supervised import LabelSpreading

    rows = np.concatenate([pipeline.as_rows(x), pipeline.as_rows(unlabelled)])
    labels = np.concatenate([y, np.full(len(unlabelled), -1)])
    return LabelSpreading(kernel="knn", n_neighbors=neighbours).fit(rows, labels).transduction_[len(y):]


def scores(config: dict[str, Any], pool: Pool, split: Any, idx: np.ndarray, real_model: Any,
           classical: tuple[np.ndarray, np.ndarray], seed: int) -> tuple[dict[str, float], float]:
    """Every method of :data:`METHODS` for one seed's budget ``idx`` of the pool; and the kept share."""
    from gentoolkit_augmentation.experiment import filter_mask, score

    spec = config["unlabelled"]
    x, y = split.x[idx], split.y[idx]
    rest = np.delete(split.x, idx, axis=0)  # the pool but the budget, labels dropped
    fake, fake_y = variations(pool, x, y, spec, seed)
    keep = filter_mask(config, real_model, x, y, fake, fake_y)
    out = {}
    for method, mask in ((POOL_GENERATED, np.ones_like(keep)), (POOL_FILTERED, keep)):
        out[method] = score(config, *pipeline.mix(x, y, fake[mask], fake_y[mask], spec["ratio"], seed)[:2], split)
    cx, cy = classical
    share = spec["ratio"] * len(y) / len(cy)
    out[POOL_CLASSICAL_FILTERED] = score(config, *pipeline.mix(cx, cy, fake[keep], fake_y[keep], share, seed)[:2],
                                         split)
    test = pipeline.as_rows(split.test_x)
    out[SELF_TRAINING] = float(self_training(config, x, y, rest).score(test, split.test_y))
    spread = spread_labels(x, y, rest, spec["spreading_neighbours"])
    out[SPREADING] = score(config, np.concatenate([x, rest]), np.concatenate([y, spread]), split)
    mx, my, _ = pipeline.mix(x, y, fake[keep], fake_y[keep], spec["ratio"], seed)  # does the generator add to them?
    out[POOL_SELF_TRAINING_FILTERED] = float(self_training(config, mx, my, rest).score(test, split.test_y))
    out[POOL_SPREADING_FILTERED] = score(config, np.concatenate([mx, rest]), np.concatenate([my, spread]), split)
    return out, float(keep.mean())


def notes(config: dict[str, Any]) -> dict[str, str]:
    spec = config["unlabelled"]
    how = (f"codes moved up to {spec['step']} of the way to one of {spec['latent_neighbours']} nearest pool codes"
           if spec["variation"] == "neighbours" else f"code noise {spec['noise']} SD")
    made = (f"real + {spec['ratio']}x as many variations ({spec['k']} per labelled image, {how}) of "
            f"{spec['model']} trained on the unlabelled pool")
    return {POOL_GENERATED: made, POOL_FILTERED: f"{made}, kept by the filter",
            POOL_CLASSICAL_FILTERED: "the classical copies and the filtered pool variations together",
            SELF_TRAINING: f"the same logistic regression self-trained on the unlabelled pool (threshold "
                           f"{spec['threshold']}); no generator",
            SPREADING: f"label spreading (k-NN graph, k={spec['spreading_neighbours']}) labels the pool, the same logistic "
                       "regression trains on it; no generator",
            POOL_SELF_TRAINING_FILTERED: "self-training on the unlabelled pool, from real + filtered pool variations",
            POOL_SPREADING_FILTERED: "the label-spread pool beside real + filtered pool variations"}
