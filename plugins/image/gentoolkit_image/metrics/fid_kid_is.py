"""Fréchet distance (FID), kernel distance (KID) and Inception Score on a network's outputs.

The formulas follow torch-fidelity / clean-fid: FID is the Fréchet distance between Gaussians
fitted to two feature sets (Heusel et al. 2017); KID is the unbiased MMD² with the cubic
polynomial kernel k(x, y) = (x·y / d + 1)³, averaged over random subsets (Bińkowski et al. 2018);
IS is exp(E_x KL(p(y|x) || p(y))) over splits (Salimans et al. 2016).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||² + Tr(S_a + S_b - 2 (S_a S_b)^½) for features a (N, D) and b (M, D)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # a singular product (a collapsed set) is handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(covmean).all():  # nudge the diagonals, as torch-fidelity does
            offset = np.eye(len(cov_a)) * 1e-6
            covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k_xx, k_yy, k_xy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
    m, n = len(x), len(y)
    return float((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1)) + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
                 - 2 * k_xy.mean())


def kernel_distance(a: np.ndarray, b: np.ndarray, subsets: int = 100, subset_size: int = 1000,
                    seed: int = 0) -> tuple[float, float]:
    """KID: mean and standard deviation of the unbiased MMD² over random subsets."""
    rng = np.random.default_rng(seed)
    size = min(subset_size, len(a), len(b))
    values = [_mmd2_unbiased(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
              for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """IS: mean and standard deviation over ``splits`` of exp(mean KL(p(y|x) || p(y)))."""
    scores = []
    for part in np.array_split(probs, splits):
        p = np.clip(part, 1e-12, 1)
        kl = (p * (np.log(p) - np.log(p.mean(0, keepdims=True)))).sum(1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
