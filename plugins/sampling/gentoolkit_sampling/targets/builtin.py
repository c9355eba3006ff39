"""The targets the sampling plugin registers itself (through its own ``register_targets`` hook)."""

from __future__ import annotations

from typing import Any, Callable

from gentoolkit_sampling.spec import TargetSpec


def _lazy(module: str, function: str) -> Callable[..., Any]:
    def create(**params: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(f"gentoolkit_sampling.targets.{module}"), function)(**params)

    return create


BUILTIN = [
    ("gaussian", _lazy("analytic", "gaussian"), "Isotropic N(mean, scale^2 I); NumPyro's N(1, 0.5^2) by default",
     {"dim": 1, "mean": 1.0, "scale": 0.5}),
    ("correlated-gaussian", _lazy("analytic", "correlated_gaussian"), "Bivariate Gaussian with correlation rho",
     {"rho": 0.99, "scales": [1.0, 1.0]}),
    ("ill-conditioned-gaussian", _lazy("analytic", "ill_conditioned_gaussian"),
     "Independent Gaussians with scales evenly spread over [0.1, 1]",
     {"dim": 10, "min_scale": 0.1, "max_scale": 1.0}),
    ("banana", _lazy("analytic", "Banana"), "Curved 2-D valley: x0 ~ N(0, s^2), x1 | x0 ~ N(c (x0^2 - s^2), 1)",
     {"scale": 2.0, "curvature": 0.5}),
    ("funnel", _lazy("analytic", "Funnel"), "Neal's funnel: v ~ N(0, 3^2), x_i | v ~ N(0, e^v)",
     {"dim": 10, "scale": 3.0}),
    ("mixture", _lazy("analytic", "Mixture"), "Equal mixture of two 2-D Gaussians at -offset and +offset",
     {"offset": 2.0, "scale": 0.75}),
    ("logistic-regression", _lazy("logistic", "logistic_regression"),
     "Posterior of a Bayesian logistic regression on scikit-learn's breast cancer data (31 parameters)",
     {"dataset": "breast_cancer", "prior_scale": 1.0}),
]


def register_builtin_targets(register: Callable[[TargetSpec], None]) -> None:
    for name, create, about, params in BUILTIN:
        register(TargetSpec(name, create, about, params))
    register(TargetSpec("molecules-prior", _lazy("tilted", "tilted_prior"),
                        "SMILES from a registry prior tilted by a score, p(x)^alpha exp(beta score(x)) (sampler imh)",
                        {"model": "default-prior", "score": "qed", "score_params": {}, "beta": 5.0, "alpha": 1.0},
                        needs_toolkit=True))
