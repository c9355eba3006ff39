"""A dense mass matrix adapted in Stan's windows whitens a strongly correlated Gaussian, where a
diagonal one cannot (every marginal variance is 1): ESS per gradient many times the diagonal's."""

from __future__ import annotations

import functools

import pytest
import torch

from gentoolkit_sampling.diagnostics import summarize
from gentoolkit_sampling.samplers.base import run_chains
from gentoolkit_sampling.samplers.catalog import make_sampler
from gentoolkit_sampling.targets.analytic import Gaussian

DIM, RHO = 5, 0.99  # equicorrelated: eigenvalues 1 + 4 rho = 4.96 and 1 - rho = 0.01 (condition number 496)


@pytest.fixture(scope="module")
def target():
    cov = torch.full((DIM, DIM), RHO, dtype=torch.float64)
    cov.fill_diagonal_(1.0)
    return Gaussian([0.0] * DIM, cov, "equicorrelated")


@functools.cache
def run(target, name: str, dense: bool, max_tree_depth: int = 10):
    params = {"max_tree_depth": max_tree_depth} if name == "nuts" else {}
    return run_chains(make_sampler(name, {"dense_mass": dense, **params}), target, num_chains=4, num_warmup=300,
                      num_samples=300, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name, params, ratio", [("hmc", {}, 8), ("nuts", {"max_tree_depth": 6}, 8)])
def test_dense_metric_beats_diagonal_in_ess_per_gradient(target, name, params, ratio):
    """Measured (seed 0): HMC 0.067 vs 0.0042 per gradient (16x), NUTS (depth <= 6) 0.174 vs 0.0063 (28x)."""
    dense, diagonal = summarize(run(target, name, True, **params)), summarize(run(target, name, False, **params))
    print(name, {k: round(dense[k], 4) for k in ("ess_per_eval", "r_hat_max", "ess_bulk_min")},
          {k: round(diagonal[k], 4) for k in ("ess_per_eval", "r_hat_max", "ess_bulk_min")})
    assert dense["r_hat_max"] < 1.01 and dense["ess_bulk_min"] > 400
    assert dense["ess_per_eval"] > ratio * diagonal["ess_per_eval"]


def test_the_adapted_dense_metric_is_the_target_covariance(target):
    chains = run(target, "nuts", True, max_tree_depth=6)
    inv_mass = torch.tensor(chains.extra["inv_mass"])  # (C, D, D)
    assert inv_mass.shape == (4, DIM, DIM)
    correlation = inv_mass / (inv_mass.diagonal(dim1=1, dim2=2)[:, :, None] * inv_mass.diagonal(dim1=1, dim2=2)[:, None]).sqrt()
    off = correlation[:, ~torch.eye(DIM, dtype=torch.bool)]
    assert off.min() > 0.95  # the chains' own covariance estimates, regularised as Stan's
    variance = inv_mass.diagonal(dim1=1, dim2=2)
    assert ((variance - 1).abs() < 0.5).all()
