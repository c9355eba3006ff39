"""Improved precision and recall (Kynkäänniemi et al. 2019) with k-nearest-neighbour manifolds.

Each feature vector's ball has the radius of its k-th nearest neighbour in its own set. Precision
is the share of generated samples inside some real ball; recall the share of real samples
inside some generated ball.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors


def knn_radii(features: np.ndarray, k: int = 3) -> np.ndarray:
    """Distance from each row to its k-th nearest other row."""
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
    return distances[:, k]  # column 0 is the point itself


def manifold_share(support: np.ndarray, queries: np.ndarray, k: int = 3) -> float:
    """Share of ``queries`` within the k-NN balls around ``support``."""
    radii = knn_radii(support, k)
    inside = (cdist(queries, support) <= radii[None]).any(1)
    return float(inside.mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict[str, float]:
    return {"precision": manifold_share(real, fake, k), "recall": manifold_share(fake, real, k)}
