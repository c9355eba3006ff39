"""A rare class, oversampled: nothing vs SMOTE vs a class-conditional generator.

Per seed, only a share ``keep`` of the minority class's training rows is kept; the rest of the
training set is untouched. Each method brings the minority class up to the majority's count
(SMOTE from imbalanced-learn, or rows a generator trained on the rare training set samples for
that class), the same classifier is trained, and balanced accuracy and ROC-AUC are measured on
the untouched real test split. Every method sees the same subsample for a given seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gentoolkit import ConfigError
from gentoolkit_tabular.data import Table
from gentoolkit_tabular.metrics import classify

METRICS = ("balanced_accuracy", "roc_auc")


def make_rare(table: Table, minority: int, keep: float, seed: int) -> Table:
    """``table`` with only a share ``keep`` (at least 2 rows) of class ``minority``, chosen by ``seed``."""
    rows = np.flatnonzero(table.labels == minority)
    kept = np.random.default_rng(seed).choice(rows, size=max(2, round(keep * len(rows))), replace=False)
    return table.subset(np.sort(np.concatenate([np.flatnonzero(table.labels != minority), kept])))


def shortfall(table: Table, minority: int) -> int:
    """How many minority rows bring that class up to the largest class."""
    counts = np.bincount(table.labels, minlength=len(table.classes))
    return int(counts.max() - counts[minority])


def smote(table: Table, minority: int, seed: int) -> Table:
    """SMOTE (imbalanced-learn) on the minority class, k_neighbors lowered when it has few rows;
    SMOTE-NC when the table has categorical columns."""
    from imblearn.over_sampling import SMOTE, SMOTENC

    n_minority = int((table.labels == minority).sum())
    target = {minority: n_minority + shortfall(table, minority)}
    k = min(5, n_minority - 1)
    sampler = (SMOTENC(table.categorical, sampling_strategy=target, k_neighbors=k, random_state=seed)
               if table.categorical else SMOTE(sampling_strategy=target, k_neighbors=k, random_state=seed))
    features, labels = sampler.fit_resample(table.features, table.labels)
    return table.with_rows(features, labels)


def oversample(model: Any, table: Table, minority: int, seed: int) -> Table:
    """``table`` plus the rows of class ``minority`` that ``model`` samples to fill the shortfall."""
    import torch

    n = shortfall(table, minority)
    rows = model.sample(n, condition=minority, generator=torch.Generator().manual_seed(seed)).numpy()
    return table.with_rows(np.concatenate([table.features, rows]),
                           np.concatenate([table.labels, np.full(n, minority)]))


def minority_index(table: Table, minority: str) -> int:
    """The class named ``minority``, or the smallest class when it is empty."""
    if not minority:
        return int(np.argmin(np.bincount(table.labels, minlength=len(table.classes))))
    if minority not in table.classes:
        raise ConfigError(f"imbalance.minority {minority!r} is not a class of {table.name}; its classes are "
                          f"{', '.join(table.classes)}.")
    return table.classes.index(minority)


def experiment(train: Table, test: Table, minority: int, keep: float, seeds: list[int],
               generators: dict[str, Any], classifier: str = "logistic") -> dict[str, dict[str, list[float]]]:
    """Scores per method (``none``, ``SMOTE`` and each generator label) and metric, one per seed.
    ``generators`` maps a label to ``train(rare_table, seed) -> fitted model``."""
    results: dict[str, dict[str, list[float]]] = {}

    def record(method: str, table: Table, seed: int) -> None:
        scores = classify(table, test, classifier, seed)
        for metric in METRICS:
            results.setdefault(method, {m: [] for m in METRICS})[metric].append(scores[metric])

    for seed in seeds:
        rare = make_rare(train, minority, keep, seed)
        record("none", rare, seed)
        record("SMOTE", smote(rare, minority, seed), seed)
        for label, train_model in generators.items():
            record(label, oversample(train_model(rare, seed), rare, minority, seed), seed)
    return results


def summary(results: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    """Mean and SD (ddof 1) of each method's scores: ``{method: {metric_mean, metric_sd}}``."""
    return {method: {f"{m}_{stat}": float(fn(values)) for m, values in scores.items()
                     for stat, fn in (("mean", np.mean), ("sd", lambda v: np.std(v, ddof=1) if len(v) > 1 else 0.0))}
            for method, scores in results.items()}
