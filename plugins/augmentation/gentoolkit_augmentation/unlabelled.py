"""DAGAN's setting on a labelled budget: the rest of the pool as unlabelled data (labels dropped).

A generator: an autoencoder from the registry trained once on the whole pool without labels,
then ``k`` variations of every labelled image, labelled with its class (DAGAN's "variations of a
given item"), filtered (:func:`pool_filter`) and mixed. ``neighbours``: decoded from
its code moved a random fraction (up to ``step``) of the way to the code of one of its
``latent_neighbours`` nearest pool images, so variations follow directions the data really vary
in; ``noise``: its code plus Gaussian noise (``noise`` × the pool codes' per-dimension SD);
``mixture`` (the default): decoded from a code drawn from its class's Gaussian in a class-conditional mixture over
the codes, fitted by semi-supervised EM (labelled codes fixed to their class, pool codes soft:
Nigam et al. 2000; Kingma et al. 2014's M1 with a Gaussian class model), so the pool shapes each
class's density, not only the labelled items' neighbourhoods.
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
        elif spec["variation"] == "mixture":
            means, covariances = class_mixture(flat[: len(y)].double(), y, pool_flat.double(), spec["iterations"],
                                               spec["regularisation"])
            labels = torch.as_tensor(np.tile(y, spec["k"]))
            noise = torch.randn(flat.shape, generator=generator, dtype=torch.float64).unsqueeze(-1)
            moved = (means[labels] + (torch.linalg.cholesky(covariances)[labels] @ noise).squeeze(-1)).float()
        else:
            moved = flat + spec["noise"] * pool_flat.std(0) * torch.randn(flat.shape, generator=generator)
        fake = pool.model.decode(moved.reshape(codes.shape))
    return fake.float().cpu().numpy(), np.tile(y, spec["k"])


def class_mixture(codes: Any, y: np.ndarray, pool_codes: Any, iterations: int,
                  regularisation: float) -> tuple[Any, Any]:
    """Means (C, D) and covariances (C, D, D) of one Gaussian per class (labels 0..C-1) over the
    labelled ``codes`` (N, D), whose responsibilities stay fixed to their class, and the unlabelled
    ``pool_codes`` (M, D), whose are re-estimated each of ``iterations`` EM steps. Every covariance
    gets ``regularisation`` × the pool codes' mean variance on its diagonal.

    By hand: scikit-learn's GaussianMixture cannot hold some points' responsibilities fixed, and
    unsupervised EM started from the class means lets components drift to other classes.
    """
    import torch

    classes = int(y.max()) + 1
    labelled = torch.nn.functional.one_hot(torch.as_tensor(y), classes).double()  # (N, C)
    points = torch.cat([codes, pool_codes])  # (N + M, D)
    ridge = regularisation * pool_codes.var(0).mean() * torch.eye(points.shape[1], dtype=points.dtype)
    means = (labelled.T @ codes) / labelled.sum(0)[:, None]
    # start isotropic (the first E-step assigns each pool code to its nearest class mean): the pool's own
    # covariance would hold the between-class spread and blur the very directions that separate classes
    covariances = (pool_codes.var(0).mean() * torch.eye(points.shape[1], dtype=points.dtype)).expand(classes, -1, -1)
    weights = torch.full((classes,), 1.0 / classes, dtype=points.dtype)
    for _ in range(iterations):
        density = torch.distributions.MultivariateNormal(means, covariance_matrix=covariances)
        unlabelled = (density.log_prob(pool_codes[:, None, :]) + weights.log()).softmax(dim=1)  # (M, C) E-step
        responsibilities = torch.cat([labelled, unlabelled])
        counts = responsibilities.sum(0)  # M-step
        weights = counts / counts.sum()
        means = (responsibilities.T @ points) / counts[:, None]
        centred = points[None] - means[:, None]  # (C, N + M, D)
        covariances = torch.einsum("cn,cnd,cne->cde", responsibilities.T, centred, centred) / counts[:, None, None]
        covariances = covariances + ridge
    return means, covariances


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
           classical: tuple[np.ndarray, np.ndarray], seed: int) -> tuple[dict[str, float], tuple[np.ndarray, ...]]:
    """Every method of :data:`METHODS` for one seed's budget ``idx`` of the pool; and the samples, their
    labels and the filter's keep mask."""
    from gentoolkit_augmentation.experiment import score

    spec = config["unlabelled"]
    x, y = split.x[idx], split.y[idx]
    rest = np.delete(split.x, idx, axis=0)  # the pool but the budget, labels dropped
    fake, fake_y = variations(pool, x, y, spec, seed)
    keep = pool_filter(config, pool, real_model, x, y, fake, fake_y)
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
    return out, (fake, fake_y, keep)


def pool_filter(config: dict[str, Any], pool: Pool, real_model: Any, x: np.ndarray, y: np.ndarray,
                fake: np.ndarray, fake_y: np.ndarray) -> np.ndarray:
    """Which pool samples to keep. ``unlabelled.filter = "pool"``: those inside the k-NN manifold
    (``filter.knn``) of every real image, labelled or not, as the precision metric estimates it;
    ``"budget"``: the budget generator's filter (the labelled images' classifier and per-class manifold),
    which rejects what only the pool taught (validation: 0.883 against 0.900 unfiltered, mixture)."""
    from gentoolkit_augmentation.experiment import filter_mask

    if config["unlabelled"]["filter"] == "budget":
        return filter_mask(config, real_model, x, y, fake, fake_y)
    if config["filter"]["knn"] == 0:
        return np.ones(len(fake_y), dtype=bool)
    return pipeline.in_manifold(pool.x, fake, config["filter"]["knn"])


def notes(config: dict[str, Any]) -> dict[str, str]:
    spec = config["unlabelled"]
    how = {"neighbours": f"codes moved up to {spec['step']} of the way to one of {spec['latent_neighbours']} nearest "
                         "pool codes",
           "noise": f"code noise {spec['noise']} SD",
           "mixture": f"codes drawn from its class's Gaussian, fitted to the labelled and pool codes by "
                      f"{spec['iterations']} semi-supervised EM steps"}[spec["variation"]]
    made = (f"real + {spec['ratio']}x as many samples ({spec['k']} per labelled image, {how}) of "
            f"{spec['model']} trained on the unlabelled pool")
    kept = ("inside the k-NN manifold of every real image, labelled or not" if spec["filter"] == "pool"
            else "kept by the budget's filter")
    return {POOL_GENERATED: made, POOL_FILTERED: f"{made}, {kept}",
            POOL_CLASSICAL_FILTERED: "the classical copies and the filtered pool samples together",
            SELF_TRAINING: f"the same logistic regression self-trained on the unlabelled pool (threshold "
                           f"{spec['threshold']}); no generator",
            SPREADING: f"label spreading (k-NN graph, k={spec['spreading_neighbours']}) labels the pool, the same logistic "
                       "regression trains on it; no generator",
            POOL_SELF_TRAINING_FILTERED: "self-training on the unlabelled pool, from real + filtered pool samples",
            POOL_SPREADING_FILTERED: "the label-spread pool beside real + filtered pool samples"}
