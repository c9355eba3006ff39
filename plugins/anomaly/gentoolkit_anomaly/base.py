"""The one detector contract, scikit-learn's estimator API with PyOD's conventions.

``fit(X)`` on normal items returns self; ``decision_function(X)`` is the anomaly score (higher =
more anomalous, as in PyOD); ``score_samples(X)`` is its negative (higher = more normal, as in
scikit-learn); ``predict(X)`` is 1 for an anomaly and 0 for a normal item (PyOD's convention, not
scikit-learn's +1/-1), thresholded at ``threshold_``: the ``1 - contamination`` quantile of the
training scores, or the ``1 - fpr`` quantile on held-out normal items after ``calibrate(X, fpr)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from gentoolkit.models import ModelCard
from gentoolkit_anomaly.errors import AnomalyInputError, NotFittedError


class BaseDetector(BaseEstimator):
    """Subclasses implement ``_fit(X)`` and ``_anomaly_scores(X)``; X arrives checked."""

    registered_name = ""  # the name under which the plugin registers the detector

    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Learn what normal items look like from ``X`` (y is ignored); returns self."""
        check_fraction("contamination", self.contamination, upper=0.5)
        X = self._check_items(X, reset=True)
        self._fit(X)
        self.decision_scores_ = np.asarray(self._training_scores(X), dtype=np.float64)
        self.threshold_ = float(np.quantile(self.decision_scores_, 1 - self.contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly scores (n,): higher is more anomalous (PyOD's convention)."""
        self._check_fitted()
        return np.asarray(self._anomaly_scores(self._check_items(X)), dtype=np.float64)

    def score_samples(self, X: Any) -> np.ndarray:
        """Normality scores (n,): higher is more normal (scikit-learn's convention)."""
        return -self.decision_function(X)

    def predict(self, X: Any) -> np.ndarray:
        """1 for an anomaly, 0 for a normal item (PyOD's convention): decision_function > threshold_."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        return self.fit(X).labels_

    def calibrate(self, X: Any, fpr: float = 0.05) -> BaseDetector:
        """Set ``threshold_`` so that a share ``fpr`` of the held-out normal items ``X`` is flagged."""
        check_fraction("fpr", fpr, upper=1.0)
        self.threshold_ = float(np.quantile(self.decision_function(X), 1 - fpr))
        return self

    # --- what subclasses implement -------------------------------------------------------------

    def _fit(self, X: np.ndarray) -> None:
        raise NotImplementedError

    def _anomaly_scores(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        """The scores that set ``threshold_``; a detector that memorises its items leaves each out."""
        return self._anomaly_scores(X)

    # --- input checks --------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit(X) with normal items "
                                 "first, or load a fitted detector with Toolkit.load_model(path).")

    def _check_items(self, X: Any, reset: bool = False) -> np.ndarray:
        """``X`` as a float array (n, *item shape): refused when empty, not numeric, holding NaN or
        infinity, or (after fit) of another item shape than the training items."""
        X = check_numeric(X)
        if reset:
            self.item_shape_ = tuple(X.shape[1:])
            self.n_features_in_ = math.prod(self.item_shape_)
        elif tuple(X.shape[1:]) != self.item_shape_:
            if math.prod(X.shape[1:]) != self.n_features_in_ or (X.ndim > 2 and len(self.item_shape_) > 1):
                raise AnomalyInputError(
                    f"X has items of shape {tuple(X.shape[1:])} ({math.prod(X.shape[1:])} features), but this "
                    f"{type(self).__name__} was fitted on items of shape {self.item_shape_} "
                    f"({self.n_features_in_} features). Give items prepared exactly like the training items.")
            X = X.reshape(len(X), *self.item_shape_)  # flat vectors of a fitted image shape, or the reverse
        return X

    # --- saving (see persistence.py) -----------------------------------------------------------

    @property
    def model_card(self) -> ModelCard:
        """What ``Toolkit.save_model`` stores and ``Toolkit.load_model`` rebuilds the detector from:
        the plugin and version of the card the toolkit attached (if any), the current params."""
        attached = getattr(self, "_attached_card", None)
        plugin, version = (attached.plugin, attached.version) if attached else ("anomaly", _plugin_version())
        params = {k: v for k, v in self.get_params(deep=False).items() if k != "toolkit"}
        return ModelCard(self.registered_name, plugin, version, params)

    @model_card.setter
    def model_card(self, card: ModelCard) -> None:
        self._attached_card = card

    def _save_state(self, folder: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The learned state as (arrays, JSON values); ``folder`` is for parts saved as models."""
        raise NotImplementedError

    def _load_state(self, folder: Any, arrays: dict[str, np.ndarray], values: dict[str, Any],
                    toolkit: Any, device: str) -> None:
        raise NotImplementedError


def _plugin_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gentoolkit-anomaly")
    except PackageNotFoundError:
        return ""


def check_numeric(X: Any, name: str = "X") -> np.ndarray:
    """``X`` as a float64 array of at least 2 dimensions with finite values, or a clear error."""
    if X is None:
        raise AnomalyInputError(f"{name} is None: give an array of items, shape (n_items, n_features).")
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise AnomalyInputError(f"{name} must be numbers, shape (n_items, n_features, ...): {err}.") from None
    if X.ndim < 2:
        raise AnomalyInputError(f"{name} is {X.ndim}-D; give a 2-D array (n_items, n_features) or a batch of "
                                "images (n_items, channels, height, width). Reshape one item with X.reshape(1, -1).")
    if len(X) == 0 or X.size == 0:
        raise AnomalyInputError(f"{name} is empty (shape {X.shape}): there are no items to use.")
    bad = ~np.isfinite(X.reshape(len(X), -1)).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
        raise AnomalyInputError(f"{name} holds NaN or infinite values in {len(rows)} item(s) (rows {shown}); "
                                "impute or drop them first.")
    return X


def check_strings(X: Any, kind: str, name: str = "X") -> list[str]:
    """``X`` as a non-empty list of strings (SMILES or texts), or a clear error."""
    if isinstance(X, (str, bytes)) or X is None or not hasattr(X, "__iter__"):
        raise AnomalyInputError(f"{name} must be a list of {kind} strings, got {type(X).__name__}.")
    if isinstance(X, np.ndarray) and X.dtype.kind not in "OUS":
        raise AnomalyInputError(f"{name} is an array of numbers, shape {X.shape}: this detector scores {kind} "
                                "strings; give a list of them.")
    items = list(np.asarray(X, dtype=object).ravel()) if isinstance(X, np.ndarray) else list(X)
    if not items:
        raise AnomalyInputError(f"{name} is empty: there are no {kind} strings to use.")
    bad = [i for i, item in enumerate(items) if not isinstance(item, str) or not item.strip()]
    if bad:
        raise AnomalyInputError(f"{name} must hold non-empty {kind} strings; item(s) {bad[:5]} are not (item "
                                f"{bad[0]} is {repr(items[bad[0]])[:40]}, a {type(items[bad[0]]).__name__}).")
    return items


def check_fraction(name: str, value: Any, upper: float) -> None:
    if not isinstance(value, (int, float)) or not 0 < value <= upper:
        raise AnomalyInputError(f"{name} must be a number in (0, {upper}], got {value!r}.")
