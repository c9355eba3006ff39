"""Detection metrics from anomaly scores (higher = more anomalous) and labels (1 = anomaly).

AUROC and AUPRC (average precision) need no threshold; F1 is taken at ``threshold`` (default:
flag as many items as there are anomalies, so precision = recall there); recall at a fixed
false-positive rate reads the ROC curve at ``fpr``. All come from scikit-learn's metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gentoolkit.errors import GentoolkitError


def _checked(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    scores, labels = np.asarray(scores, dtype=np.float64).ravel(), np.asarray(labels).ravel()
    if len(scores) != len(labels):
        raise GentoolkitError(f"Anomaly metrics need one label per score: got {len(scores)} scores and "
                              f"{len(labels)} labels.")
    if not np.isfinite(scores).all():
        raise GentoolkitError("The anomaly scores hold NaN or infinite values; a detector diverged or got bad input.")
    if set(np.unique(labels)) != {0, 1}:
        raise GentoolkitError("Anomaly metrics need labels 0 (normal) and 1 (anomaly), both present; "
                              f"got the values {sorted(set(np.unique(labels).tolist()))[:5]}.")
    return scores, labels.astype(int)


def auroc(scores: Any, labels: Any) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    scores, labels = _checked(scores, labels)
    return {"auroc": float(roc_auc_score(labels, scores))}


def auprc(scores: Any, labels: Any) -> dict[str, float]:
    from sklearn.metrics import average_precision_score

    scores, labels = _checked(scores, labels)
    return {"auprc": float(average_precision_score(labels, scores))}


def f1(scores: Any, labels: Any, threshold: float | None = None) -> dict[str, float]:
    from sklearn.metrics import f1_score

    scores, labels = _checked(scores, labels)
    if threshold is None:
        threshold = float(np.quantile(scores, 1 - labels.mean()))
    return {"f1": float(f1_score(labels, (scores > threshold).astype(int), zero_division=0.0))}


def recall_at_fpr(scores: Any, labels: Any, fpr: float = 0.05) -> dict[str, float]:
    """The largest share of anomalies caught while at most ``fpr`` of the normal items are flagged."""
    from sklearn.metrics import roc_curve

    if not 0 <= fpr <= 1:
        raise GentoolkitError(f"fpr must be in [0, 1], got {fpr!r}.")
    scores, labels = _checked(scores, labels)
    false_positive, true_positive, _ = roc_curve(labels, scores)
    return {f"recall_at_fpr_{fpr:g}": float(true_positive[false_positive <= fpr].max())}


def all_metrics(scores: Any, labels: Any, fpr: float = 0.05) -> dict[str, float]:
    return {**auroc(scores, labels), **auprc(scores, labels), **f1(scores, labels),
            **recall_at_fpr(scores, labels, fpr)}


EVALUATORS = {"auroc": auroc, "auprc": auprc, "f1": f1, "recall-at-fpr": recall_at_fpr}
