"""Weighted means that combine transformed component scores into one total (REINVENT 4's).

Weights are normalised per molecule over the components that have a value: a NaN score (no
value, e.g. an unmapped ``value_map`` entry) drops out with its weight. Unlike REINVENT there is no
1e-8 floor in the geometric mean, so a zero score zeroes the total, as in GuacaMol and TDC.
A molecule with no value at all scores 0.
"""

from __future__ import annotations

import numpy as np


def _weights(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(C, N) weights normalised over the non-NaN scores of each molecule; 0 where NaN."""
    w = np.where(np.isnan(scores), 0.0, np.asarray(weights, dtype=float)[:, None])
    total = w.sum(axis=0)
    return np.divide(w, total, out=np.zeros_like(w), where=total > 0)


def arithmetic_mean(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """sum_i w_i s_i / sum_i w_i per molecule; ``scores`` is (C, N), ``weights`` (C,)."""
    w = _weights(scores, weights)
    return np.sum(w * np.nan_to_num(scores), axis=0)


def geometric_mean(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """prod_i s_i ^ (w_i / sum_i w_i) per molecule; ``scores`` is (C, N), ``weights`` (C,)."""
    w = _weights(scores, weights)
    s = np.where(w > 0, np.nan_to_num(scores), 1.0)
    with np.errstate(divide="ignore"):
        total = np.exp(np.sum(w * np.log(np.maximum(s, 0.0)), axis=0))
    return np.where(w.sum(axis=0) > 0, total, 0.0)


AGGREGATIONS = {"arithmetic": arithmetic_mean, "geometric": geometric_mean}
