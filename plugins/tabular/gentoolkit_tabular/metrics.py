"""How good synthetic rows are: SDMetrics-style fidelity and train-synthetic-test-real efficacy.

The ``sdmetrics`` package computes the same quantities, but it pins pandas < 3 and pulls in plotly
and copulas (installing it would downgrade the shared pandas 3.1), so they are written here with
scipy and scikit-learn, following SDMetrics' definitions:

- column shapes: 1 - KS statistic for a numeric column, 1 - total variation distance for a
  categorical one (the label counts as one);
- column-pair trends: 1 - |r_real - r_synthetic| / 2 for two numeric columns (Pearson), and
  1 - TV distance of the joint frequencies for a pair with a categorical column (numeric columns
  binned into 10 equal-width bins over the real range), as SDMetrics' ContingencySimilarity does;
- efficacy: a classifier trained on the synthetic rows, scored on real test rows (TSTR), beside
  the same classifier trained on the real training rows (TRTR).
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np

from gentoolkit import ConfigError
from gentoolkit_tabular.data import Table

BINS = 10


def _columns(table: Table) -> list[tuple[str, np.ndarray, int]]:
    """(name, values, categories: 0 for a numeric column) of every column, the label last."""
    columns = [(c.name, table.features[:, j], len(c.categories)) for j, c in enumerate(table.columns)]
    return columns + [(table.label_name, table.labels.astype(np.float64), len(table.classes))]


def _frequencies(codes: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(codes.astype(np.int64), minlength=k)[:k] / max(len(codes), 1)


def column_shapes(synthetic: Table, real: Table) -> dict[str, float]:
    """Per column: 1 - KS statistic (numeric) or 1 - TV distance (categorical); 1 is identical."""
    from scipy.stats import ks_2samp

    _check_same_columns(synthetic, real)
    scores = {}
    for (name, fake, k), (_, true, _) in zip(_columns(synthetic), _columns(real)):
        if k:
            scores[name] = 1 - 0.5 * float(np.abs(_frequencies(fake, k) - _frequencies(true, k)).sum())
        else:
            scores[name] = 1 - float(ks_2samp(true, fake).statistic)
    return scores


def pair_trends(synthetic: Table, real: Table) -> dict[str, float]:
    """Per pair of columns ("a | b"): correlation similarity or contingency similarity."""
    _check_same_columns(synthetic, real)
    fake_cols, real_cols = _columns(synthetic), _columns(real)
    scores = {}
    for a, b in itertools.combinations(range(len(real_cols)), 2):
        (name_a, fa, ka), (name_b, fb, kb) = fake_cols[a], fake_cols[b]
        _, ra, _ = real_cols[a]
        _, rb, _ = real_cols[b]
        if not ka and not kb:
            scores[f"{name_a} | {name_b}"] = 1 - abs(_pearson(ra, rb) - _pearson(fa, fb)) / 2
            continue
        codes_r = [_discrete(r, r, k) for r, k in ((ra, ka), (rb, kb))]
        codes_f = [_discrete(f, r, k) for f, r, k in ((fa, ra, ka), (fb, rb, kb))]
        widths = [k or BINS for k in (ka, kb)]
        joint_r = _frequencies(codes_r[0] * widths[1] + codes_r[1], widths[0] * widths[1])
        joint_f = _frequencies(codes_f[0] * widths[1] + codes_f[1], widths[0] * widths[1])
        scores[f"{name_a} | {name_b}"] = 1 - 0.5 * float(np.abs(joint_r - joint_f).sum())
    return scores


def fidelity(synthetic: Table, real: Table | None = None) -> dict[str, float]:
    """The evaluator: mean column-shape and pair-trend scores and their mean (SDMetrics' quality score)."""
    if real is None:
        raise ConfigError("tabular-fidelity needs the real rows to compare with: evaluate(samples, real=table).")
    shapes, pairs = column_shapes(synthetic, real), pair_trends(synthetic, real)
    shape, pair = float(np.mean(list(shapes.values()))), float(np.mean(list(pairs.values()))) if pairs else 1.0
    return {"column_shapes": shape, "pair_trends": pair, "quality": (shape + pair) / 2,
            "worst_column_shape": float(min(shapes.values()))}


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _discrete(values: np.ndarray, reference: np.ndarray, k: int) -> np.ndarray:
    """Category codes as they are; numeric values as one of BINS equal-width bins over the reference range."""
    if k:
        return values.astype(np.int64)
    edges = np.linspace(reference.min(), reference.max(), BINS + 1)[1:-1]
    return np.digitize(values, edges)


def _check_same_columns(synthetic: Table, real: Table) -> None:
    if [c.name for c in synthetic.columns] != [c.name for c in real.columns]:
        raise ConfigError(f"Synthetic and real tables have different columns: {[c.name for c in synthetic.columns]} "
                          f"and {[c.name for c in real.columns]}; compare samples with the table they imitate.")


# --- efficacy --------------------------------------------------------------------------------


CLASSIFIERS = ("logistic", "forest", "boosting")


def make_classifier(table: Table, classifier: str = "logistic", seed: int = 0) -> Any:
    """A scikit-learn pipeline: numeric columns standardised, categorical ones one-hot, then the classifier."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    models = {"logistic": lambda: LogisticRegression(max_iter=2000),
              "forest": lambda: RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1),
              "boosting": lambda: HistGradientBoostingClassifier(random_state=seed)}
    if classifier not in models:
        raise ConfigError(f"Unknown classifier {classifier!r}; choose one of {', '.join(CLASSIFIERS)}.")
    categories = [list(range(len(table.columns[j].categories))) for j in table.categorical]
    encode = ColumnTransformer([("numeric", StandardScaler(), table.numeric),
                                ("categorical", OneHotEncoder(categories=categories, handle_unknown="ignore"),
                                 table.categorical)])
    return make_pipeline(encode, models[classifier]())


def classify(train: Table, test: Table, classifier: str = "logistic", seed: int = 0) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro F1 and ROC-AUC (macro one-vs-rest for > 2 classes) on ``test``
    of ``classifier`` trained on ``train``."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

    n_classes = len(test.classes)
    present = np.unique(train.labels)
    if len(present) < 2:
        raise ConfigError(f"The training rows hold one class ({train.classes[present[0]]!r}); a classifier "
                          "needs at least two. Sample rows of every class.")
    model = make_classifier(train, classifier, seed).fit(train.features, train.labels)
    proba = np.zeros((len(test), n_classes))
    proba[:, model.classes_] = model.predict_proba(test.features)
    predicted = proba.argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auc = (roc_auc_score(test.labels, proba[:, 1]) if n_classes == 2
               else roc_auc_score(test.labels, proba, multi_class="ovr", average="macro", labels=range(n_classes)))
    return {"accuracy": float(accuracy_score(test.labels, predicted)),
            "balanced_accuracy": float(balanced_accuracy_score(test.labels, predicted)),
            "f1_macro": float(f1_score(test.labels, predicted, average="macro")), "roc_auc": float(auc)}


def efficacy(synthetic: Table, test: Table | None = None, train: Table | None = None, classifier: str = "logistic",
             seed: int = 0) -> dict[str, float]:
    """The evaluator: ``tstr_*`` scores of the classifier trained on ``synthetic`` and tested on the
    real ``test`` rows; with the real ``train`` rows also ``trtr_*`` and ``relative_roc_auc`` (TSTR / TRTR)."""
    if test is None:
        raise ConfigError("tabular-efficacy needs the real test rows: evaluate(samples, test=table).")
    _check_same_columns(synthetic, test)
    scores = {f"tstr_{k}": v for k, v in classify(synthetic, test, classifier, seed).items()}
    if train is not None:
        scores.update({f"trtr_{k}": v for k, v in classify(train, test, classifier, seed).items()})
        scores["relative_roc_auc"] = scores["tstr_roc_auc"] / scores["trtr_roc_auc"]
    return scores


EVALUATORS = {"fidelity": fidelity, "efficacy": efficacy}
