"""Classical baselines behind the detector contract: PCA, OC-SVM, Isolation Forest, KDE, HBOS.

scikit-learn and PyOD fit them; each keeps only the fitted arrays it scores with, so a saved
detector is safetensors + JSON (never a pickle) and scores exactly as the fitted one. Items of
any shape are flattened to feature vectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gentoolkit.errors import GentoolkitError
from gentoolkit_anomaly.base import BaseDetector


class _FlatDetector(BaseDetector):
    """Scores flat feature vectors; state is a dict of arrays named in ``_arrays``."""

    _arrays: tuple[str, ...] = ()

    def _check_items(self, X: Any, reset: bool = False) -> np.ndarray:
        X = super()._check_items(X, reset)
        return X.reshape(len(X), -1)

    def _save_state(self, folder: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {name: np.asarray(getattr(self, name)) for name in self._arrays}, {}

    def _load_state(self, folder, arrays, values, toolkit, device) -> None:
        for name in self._arrays:
            setattr(self, name, arrays[name])


class PCADetector(_FlatDetector):
    """Squared reconstruction error from the principal subspace; ``n_components`` < 1 keeps that
    share of the variance (0.9: one-class digits AUROC 0.997)."""

    registered_name = "anomaly-pca"
    _arrays = ("mean_", "components_")

    def __init__(self, n_components: float = 0.9, contamination: float = 0.1):
        self.n_components = n_components
        self.contamination = contamination

    def _fit(self, X: np.ndarray) -> None:
        from sklearn.decomposition import PCA

        pca = PCA(n_components=self.n_components, svd_solver="full").fit(X)
        self.mean_, self.components_ = pca.mean_, pca.components_

    def _anomaly_scores(self, X: np.ndarray) -> np.ndarray:
        centred = X - self.mean_
        residual = centred - (centred @ self.components_.T) @ self.components_
        return (residual**2).sum(axis=1)


class OCSVMDetector(_FlatDetector):
    """One-class SVM with an RBF kernel (scikit-learn); the score is minus its decision function."""

    registered_name = "anomaly-ocsvm"
    _arrays = ("support_vectors_", "dual_coef_", "intercept_", "gamma_")

    def __init__(self, nu: float = 0.1, gamma: Any = "scale", contamination: float = 0.1):
        self.nu = nu
        self.gamma = gamma
        self.contamination = contamination

    def _fit(self, X: np.ndarray) -> None:
        from sklearn.svm import OneClassSVM

        svm = OneClassSVM(kernel="rbf", nu=self.nu, gamma=self.gamma).fit(X)
        self.support_vectors_, self.dual_coef_, self.intercept_ = svm.support_vectors_, svm.dual_coef_, svm.intercept_
        self.gamma_ = np.asarray(svm._gamma)

    def _anomaly_scores(self, X: np.ndarray) -> np.ndarray:
        from sklearn.metrics.pairwise import rbf_kernel

        kernel = rbf_kernel(X, self.support_vectors_, gamma=float(self.gamma_))
        return -(kernel @ self.dual_coef_.ravel() + self.intercept_[0])


class IForestDetector(_FlatDetector):
    """Isolation Forest (scikit-learn): 2^(-mean path length / c(max_samples)), walked over the
    forest's stored node arrays."""

    registered_name = "anomaly-iforest"
    _arrays = ("children_left_", "children_right_", "feature_", "threshold_node_", "n_node_samples_",
               "tree_offsets_", "tree_features_", "max_samples_")

    def __init__(self, n_estimators: int = 100, max_samples: Any = "auto", max_features: float = 1.0,
                 random_state: int = 0, contamination: float = 0.1):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.random_state = random_state
        self.contamination = contamination

    def _fit(self, X: np.ndarray) -> None:
        from sklearn.ensemble import IsolationForest

        forest = IsolationForest(n_estimators=self.n_estimators, max_samples=self.max_samples,
                                 max_features=self.max_features, random_state=self.random_state).fit(X)
        trees = [estimator.tree_ for estimator in forest.estimators_]
        self.children_left_ = np.concatenate([t.children_left for t in trees])
        self.children_right_ = np.concatenate([t.children_right for t in trees])
        self.feature_ = np.concatenate([t.feature for t in trees])
        self.threshold_node_ = np.concatenate([t.threshold for t in trees])
        self.n_node_samples_ = np.concatenate([t.n_node_samples for t in trees])
        self.tree_offsets_ = np.cumsum([0] + [t.node_count for t in trees])
        self.tree_features_ = np.stack(forest.estimators_features_)
        self.max_samples_ = np.asarray(forest.max_samples_)

    def _anomaly_scores(self, X: np.ndarray) -> np.ndarray:
        depths = np.zeros(len(X))
        rows = np.arange(len(X))
        for tree, features in enumerate(self.tree_features_):
            start, stop = self.tree_offsets_[tree], self.tree_offsets_[tree + 1]
            left, right = self.children_left_[start:stop], self.children_right_[start:stop]
            feature, threshold = self.feature_[start:stop], self.threshold_node_[start:stop]
            x = X[:, features].astype(np.float32)  # trees split float32 features, as scikit-learn's do
            node, visited = np.zeros(len(X), dtype=np.intp), np.ones(len(X))
            while (inner := left[node] != -1).any():
                at = node[inner]
                goes_left = x[rows[inner], feature[at]] <= threshold[at]
                node[inner] = np.where(goes_left, left[at], right[at])
                visited[inner] += 1
            depths += visited + _average_path_length(self.n_node_samples_[start:stop][node]) - 1.0
        scale = len(self.tree_features_) * _average_path_length(np.array([int(self.max_samples_)]))[0]
        return 2.0 ** (-depths / scale)


def _average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n): the mean path length of an unsuccessful search in a binary search tree of n items."""
    n = np.asarray(n, dtype=np.float64)
    out = np.where(n == 2, 1.0, 0.0)
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


class KDEDetector(_FlatDetector):
    """Minus the log-density of a Gaussian kernel density estimate; ``bandwidth=None`` picks it by
    5-fold cross-validated likelihood over 20 values from 0.1 to 10. The training scores that set
    the threshold leave each item's own kernel out (else every training item looks typical)."""

    registered_name = "anomaly-kde"
    _arrays = ("X_fit_", "bandwidth_")

    def __init__(self, bandwidth: float | None = None, contamination: float = 0.1):
        self.bandwidth = bandwidth
        self.contamination = contamination

    def _fit(self, X: np.ndarray) -> None:
        from sklearn.model_selection import GridSearchCV
        from sklearn.neighbors import KernelDensity

        bandwidth = self.bandwidth
        if bandwidth is None:
            search = GridSearchCV(KernelDensity(), {"bandwidth": np.logspace(-1, 1, 20)},
                                  cv=min(5, len(X)))
            bandwidth = search.fit(X).best_params_["bandwidth"]
        self.X_fit_, self.bandwidth_ = X, np.asarray(float(bandwidth))

    def _anomaly_scores(self, X: np.ndarray) -> np.ndarray:
        from sklearn.neighbors import KernelDensity

        kde = KernelDensity(bandwidth=float(self.bandwidth_)).fit(self.X_fit_)
        return -kde.score_samples(X)

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        from scipy.special import logsumexp
        from sklearn.metrics.pairwise import euclidean_distances

        n, d = X.shape
        if n < 2:
            return self._anomaly_scores(X)
        h = float(self.bandwidth_)
        exponents = -euclidean_distances(X, squared=True) / (2 * h * h)
        np.fill_diagonal(exponents, -np.inf)
        log_density = logsumexp(exponents, axis=1) - np.log(n - 1) - 0.5 * d * np.log(2 * np.pi * h * h)
        return -log_density


class HBOSDetector(_FlatDetector):
    """Histogram-based outlier score (PyOD's HBOS): a sum of per-feature minus log bin densities.
    Needs the optional PyOD (``pip install 'gentoolkit-anomaly[pyod]'``)."""

    registered_name = "anomaly-hbos"

    def __init__(self, n_bins: int = 10, alpha: float = 0.1, tol: float = 0.5, contamination: float = 0.1):
        self.n_bins = n_bins
        self.alpha = alpha
        self.tol = tol
        self.contamination = contamination

    def _hbos(self) -> Any:
        try:
            from pyod.models.hbos import HBOS
        except ImportError:
            raise GentoolkitError("HBOS comes from PyOD, which is not installed: pip install "
                                  "'gentoolkit-anomaly[pyod]' (or pyod).") from None

        return HBOS(n_bins=self.n_bins, alpha=self.alpha, tol=self.tol, contamination=self.contamination)

    def _fit(self, X: np.ndarray) -> None:
        self.hbos_ = self._hbos().fit(X)

    def _anomaly_scores(self, X: np.ndarray) -> np.ndarray:
        return self.hbos_.decision_function(X)

    def _save_state(self, folder: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        hist, edges = self.hbos_.hist_, self.hbos_.bin_edges_  # arrays, or lists of them for n_bins="auto"
        if isinstance(hist, np.ndarray):
            return {"hist": hist, "bin_edges": edges}, {"per_feature": 0}
        return ({**{f"hist.{i}": h for i, h in enumerate(hist)}, **{f"bin_edges.{i}": e for i, e in enumerate(edges)}},
                {"per_feature": len(hist)})

    def _load_state(self, folder, arrays, values, toolkit, device) -> None:
        self.hbos_ = self._hbos()  # PyOD scores from these two fitted arrays alone
        if values["per_feature"]:
            count = values["per_feature"]
            self.hbos_.hist_ = [arrays[f"hist.{i}"] for i in range(count)]
            self.hbos_.bin_edges_ = [arrays[f"bin_edges.{i}"] for i in range(count)]
        else:
            self.hbos_.hist_, self.hbos_.bin_edges_ = arrays["hist"], arrays["bin_edges"]
