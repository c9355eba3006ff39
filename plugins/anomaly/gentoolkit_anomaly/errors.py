"""The anomaly plugin's errors: both are GentoolkitErrors (the CLI prints them in one line)."""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFitted

from gentoolkit.errors import GentoolkitError


class AnomalyInputError(GentoolkitError, ValueError):
    """Items a detector cannot take: another shape than at fit, NaN/inf, none at all."""


class NotFittedError(GentoolkitError, _SklearnNotFitted):
    """A detector used before ``fit`` (also scikit-learn's NotFittedError, as PyOD raises)."""
