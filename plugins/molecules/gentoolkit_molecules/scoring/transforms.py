"""Transforms: map a component's raw values onto [0, 1] (higher is better).

The sigmoids, step and value map follow REINVENT 4 (``reinvent/scoring/transforms``, base-10
sigmoids); the Gaussians and the clipped line are GuacaMol's score modifiers, which the PMO
oracles use. NaN (no value) stays NaN. ``make_transform({"type": ..., **params}, label)`` builds one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping

import numpy as np

from gentoolkit.errors import UnknownNameError
from gentoolkit_molecules.scoring.component import ScoringConfigError, parse_params


def _sigmoid(x: np.ndarray, k: float) -> np.ndarray:
    """REINVENT's stable base-10 sigmoid 1 / (1 + 10^(-k x)), accurate far into both tails."""
    h = np.log(10.0) * k * x
    e = np.exp(-np.abs(h))
    return np.where(h >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _hard(x: np.ndarray, k: float) -> np.ndarray:
    return np.where(np.isnan(x), np.nan, (k * x > 0).astype(float))


@dataclass(frozen=True)
class NoTransform:
    """The raw value as it is."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=float)


@dataclass(frozen=True)
class Sigmoid:
    """Rises from 0 at ``low`` to 1 at ``high``: 1 / (1 + 10^(-10 k (x - (low + high)/2) / (high - low)))."""

    low: float
    high: float
    k: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float) - (self.high + self.low) / 2
        if self.high == self.low:
            return _hard(x, 10.0 * self.k)
        return _sigmoid(x, 10.0 * self.k / (self.high - self.low))


@dataclass(frozen=True)
class ReverseSigmoid(Sigmoid):
    """Falls from 1 at ``low`` to 0 at ``high``: one minus the sigmoid."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return 1.0 - super().__call__(x)


@dataclass(frozen=True)
class DoubleSigmoid:
    """1 between ``low`` and ``high``, falling off either side; REINVENT's coef_div/coef_si/coef_se."""

    low: float
    high: float
    coef_div: float = 100.0
    coef_si: float = 150.0
    coef_se: float = 150.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        left = x < (self.high - self.low) / 2 + self.low
        if self.coef_div == 0:
            up, down = _hard(x - self.low, self.coef_si), 1.0 - _hard(x - self.high, self.coef_se)
        else:
            up = _sigmoid(x - self.low, self.coef_si / self.coef_div)
            down = 1.0 - _sigmoid(x - self.high, self.coef_se / self.coef_div)
        return np.where(left, up, down)


@dataclass(frozen=True)
class Step:
    """1.0 where ``low <= x <= high``, else 0.0."""

    low: float
    high: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return np.where(np.isnan(x), np.nan, ((x >= self.low) & (x <= self.high)).astype(float))


@dataclass(frozen=True)
class ValueMap:
    """Maps exact raw values to scores, e.g. ``mapping = {"0" = 0.0, "1" = 1.0}``; others become NaN."""

    mapping: Mapping[Any, float] = field(default_factory=dict)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        table = {float(k): float(v) for k, v in self.mapping.items()}
        return np.array([table.get(float(v), np.nan) for v in np.asarray(x, dtype=float)], dtype=float)


@dataclass(frozen=True)
class Gaussian:
    """GuacaMol's Gaussian: exp(-((x - mu) / sigma)^2 / 2), 1 at ``mu``."""

    mu: float
    sigma: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * ((np.asarray(x, dtype=float) - self.mu) / self.sigma) ** 2)


@dataclass(frozen=True)
class MinGaussian(Gaussian):
    """1 for ``x <= mu``, a half Gaussian above (GuacaMol's MinGaussianModifier: minimise x)."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return super().__call__(np.maximum(np.asarray(x, dtype=float), self.mu))


@dataclass(frozen=True)
class MaxGaussian(Gaussian):
    """1 for ``x >= mu``, a half Gaussian below (GuacaMol's MaxGaussianModifier: maximise x)."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return super().__call__(np.minimum(np.asarray(x, dtype=float), self.mu))


@dataclass(frozen=True)
class Clipped:
    """GuacaMol's ClippedScoreModifier: a line from (lower_x, low_score) to (upper_x, high_score), clipped."""

    upper_x: float
    lower_x: float = 0.0
    high_score: float = 1.0
    low_score: float = 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        slope = (self.high_score - self.low_score) / (self.upper_x - self.lower_x)
        y = slope * np.asarray(x, dtype=float) + self.high_score - slope * self.upper_x
        return np.clip(y, self.low_score, self.high_score)


TRANSFORMS: dict[str, type] = {
    "none": NoTransform, "sigmoid": Sigmoid, "reverse_sigmoid": ReverseSigmoid,
    "double_sigmoid": DoubleSigmoid, "step": Step, "value_map": ValueMap,
    "gaussian": Gaussian, "min_gaussian": MinGaussian, "max_gaussian": MaxGaussian, "clipped": Clipped,
}


def make_transform(spec: Mapping[str, Any] | None, label: str) -> Callable[[np.ndarray], np.ndarray]:
    """Build the transform a component's ``transform`` table describes; errors name the label."""
    spec = dict(spec or {"type": "none"})
    kind = spec.pop("type", None)
    if kind not in TRANSFORMS:
        if kind is None:
            raise ScoringConfigError(f"component {label!r}: transform needs a 'type' "
                                     f"({', '.join(TRANSFORMS)}).")
        err = UnknownNameError("transform type", str(kind), TRANSFORMS)
        err.args = (f"component {label!r}: {err.args[0]}",)
        raise err
    cls = TRANSFORMS[kind]
    where = f"component {label!r}: transform {kind!r}"
    for f in fields(cls):
        if f.name in spec and f.name != "mapping" and not _is_number(spec[f.name]):
            raise ScoringConfigError(f"{where}: {f.name} must be a number, not {spec[f.name]!r}.")
    transform = parse_params(cls, spec, where)
    _check(transform, where)
    return transform


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def _check(t: Any, where: str) -> None:
    """Parameter values that would make a transform meaningless."""
    if isinstance(t, Gaussian) and t.sigma <= 0:
        raise ScoringConfigError(f"{where}: sigma must be positive, not {t.sigma}.")
    if isinstance(t, Clipped) and (t.upper_x == t.lower_x or t.low_score >= t.high_score):
        raise ScoringConfigError(f"{where}: needs upper_x != lower_x and low_score < high_score.")
    if isinstance(t, (Step, DoubleSigmoid)) and t.low > t.high:
        raise ScoringConfigError(f"{where}: low ({t.low}) must not exceed high ({t.high}).")
    if isinstance(t, ValueMap):
        if not isinstance(t.mapping, Mapping) or not t.mapping:
            raise ScoringConfigError(f"{where}: needs a non-empty 'mapping' table of value = score.")
        for key, value in t.mapping.items():
            try:
                float(key)
            except (TypeError, ValueError):
                raise ScoringConfigError(f"{where}: mapping key {key!r} is not a number.") from None
            if not _is_number(value):
                raise ScoringConfigError(f"{where}: mapping score for {key!r} must be a number, not {value!r}.")
