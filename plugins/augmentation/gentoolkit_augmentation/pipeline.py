"""The domain-free steps of generative augmentation: the real budget, the generator check, the
filters and the mixing. Items are arrays (images, tables, fingerprints); labels are ints.

    idx = budget(labels, per_class=5, seed=0)                   # the few real items per class
    keep = confident(classifier.predict_proba(fake), fake_y, tau=0.9) & in_manifold(real, fake, k=3)
    x, y, synthetic = mix(real_x, real_y, fake_x[keep], fake_y[keep], ratio=1.0, seed=0)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from gentoolkit import GentoolkitError
from gentoolkit.protocols import Sampler


class AugmentationError(GentoolkitError):
    """Input that generative augmentation cannot use as given."""


def budget(labels: np.ndarray, per_class: int, seed: int, classes: Sequence[str] = ()) -> np.ndarray:
    """Indices of ``per_class`` items of every class, drawn without replacement with ``seed``."""
    labels = np.asarray(labels)
    if labels.size == 0 or np.any(labels < 0):
        raise AugmentationError("The dataset has no labels (or some items are unlabelled, label -1); "
                                "augmentation needs a class for every training item.")
    if per_class < 2:
        raise AugmentationError(f"per_class={per_class}: give at least 2 real items per class, so a "
                                "class-conditional generator and the filter's classifier see each class twice.")
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            name = classes[c] if c < len(classes) else str(c)
            raise AugmentationError(f"Class {name!r} has {len(members)} item(s), fewer than the budget of "
                                    f"{per_class} per class; lower per_class or add items of that class.")
        chosen.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def check_labels(labels: np.ndarray, classes: Sequence[str] = (), source: str = "the data") -> None:
    """Refuse labels a classifier cannot learn from: missing ones, a single class, a one-item class."""
    labels = np.asarray(labels)
    if labels.size == 0 or np.any(labels < 0):
        raise AugmentationError(f"{source} has items without a label; give every item a class "
                                "(a subfolder per class, or a label column).")
    values, counts = np.unique(labels, return_counts=True)
    if len(values) < 2:
        raise AugmentationError(f"{source} has a single class; augmentation for classification needs two or more.")
    if counts.min() < 2:
        lonely = [classes[v] if v < len(classes) else str(v) for v in values[counts < 2]]
        raise AugmentationError(f"{source}: class(es) {', '.join(map(repr, lonely))} have one item; a "
                                "class-conditional generator cannot learn a class from one example. Add items "
                                "or remove that class.")


def check_generator(model: Any, name: str) -> tuple[str, ...]:
    """The class names of ``model``, refusing one that cannot sample or is not class-conditional."""
    if not isinstance(model, Sampler):
        raise AugmentationError(f"Model {name!r} cannot sample (no Sampler capability); pick one of "
                                "`gentoolkit models --can sample`.")
    classes = tuple(getattr(model.item_spec, "classes", ()) or ())
    if not classes:
        raise AugmentationError(f"Model {name!r} is not class-conditional (its item_spec has no classes), so "
                                "its samples have no labels to augment with. Create it with classes=[...].")
    return classes


def confident(proba: np.ndarray, labels: np.ndarray, tau: float) -> np.ndarray:
    """Mask of samples a classifier assigns to their own class with probability ≥ ``tau``
    (and as its top class): ``proba`` (N, C) from ``predict_proba``, ``labels`` (N,)."""
    proba, labels = np.asarray(proba), np.asarray(labels)
    own = proba[np.arange(len(labels)), labels]
    return (proba.argmax(1) == labels) & (own >= tau)


def in_manifold(real: Any, fake: Any, k: int = 3, real_labels: np.ndarray | None = None,
                fake_labels: np.ndarray | None = None, metric: str = "euclidean") -> np.ndarray:
    """Mask of ``fake`` items inside the real data's k-NN manifold (Kynkäänniemi et al. 2019): within
    the distance from some real item to its k-th nearest real neighbour. Given labels, per class.
    ``metric``: any scikit-learn metric, e.g. ``jaccard`` on boolean fingerprints (1 - Tanimoto) or
    ``cosine`` on TF-IDF rows (sparse matrices are fine)."""
    from sklearn.metrics import pairwise_distances_chunked
    from sklearn.neighbors import NearestNeighbors

    real, fake = as_rows(real), as_rows(fake)
    if real_labels is None:
        groups = [(np.arange(real.shape[0]), np.arange(fake.shape[0]))]
    else:
        groups = [(np.flatnonzero(real_labels == c), np.flatnonzero(fake_labels == c)) for c in np.unique(real_labels)]
    keep = np.zeros(fake.shape[0], dtype=bool)
    for r, f in groups:
        if len(f) == 0:
            continue
        kk = min(k, len(r) - 1)
        if kk < 1:
            raise AugmentationError("The k-NN manifold filter needs at least 2 real items per class.")
        neighbours = NearestNeighbors(n_neighbors=kk + 1, metric=metric).fit(real[r])
        radii = neighbours.kneighbors(real[r])[0][:, -1]  # the item itself is the first neighbour
        inside = pairwise_distances_chunked(fake[f], real[r], metric=metric,
                                            reduce_func=lambda d, start: (d <= radii[None, :] + 1e-12).any(1))
        keep[f] = np.concatenate(list(inside))
    return keep


def as_rows(items: Any) -> Any:
    """Items as a 2-D matrix of rows: sparse matrices as they are, arrays flattened per item."""
    from scipy import sparse

    if sparse.issparse(items):
        return sparse.csr_matrix(items)
    items = np.asarray(items)
    return items.reshape(len(items), -1)


def mix(real_x: np.ndarray, real_y: np.ndarray, fake_x: np.ndarray, fake_y: np.ndarray, ratio: float,
        seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Real items plus ``round(ratio * n_real)`` synthetic ones, as even across classes as the
    synthetic pool allows; returns (x, y, is_synthetic). Ratio is synthetic per real item."""
    if not ratio > 0:
        raise AugmentationError(f"ratio={ratio}: the synthetic-to-real ratio must be > 0 (1.0 adds one "
                                "synthetic item per real one); leave augmentation out for real data only.")
    rng = np.random.default_rng(seed)
    want = int(round(ratio * len(real_y)))
    classes = np.unique(real_y)
    pools = {c: rng.permutation(np.flatnonzero(fake_y == c)) for c in classes}
    share = {c: 0 for c in classes}
    left = want
    while left > 0 and any(share[c] < len(pools[c]) for c in classes):  # round-robin: even, then fill
        for c in classes:
            if left > 0 and share[c] < len(pools[c]):
                share[c] += 1
                left -= 1
    picked = np.concatenate([pools[c][:share[c]] for c in classes]).astype(int) if want else np.array([], int)
    x = np.concatenate([real_x, fake_x[picked]])
    y = np.concatenate([real_y, fake_y[picked]])
    synthetic = np.concatenate([np.zeros(len(real_y), bool), np.ones(len(picked), bool)])
    return x, y, synthetic
