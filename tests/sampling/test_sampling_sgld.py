"""SGLD (Welling & Teh 2011) on the Bayesian logistic regression, checked against NUTS's posterior,
with a tolerance that a wrong gradient scale fails."""

from __future__ import annotations

import pytest
import torch

from gentoolkit.errors import GentoolkitError
from gentoolkit_sampling.samplers.base import run_chains
from gentoolkit_sampling.samplers.catalog import make_sampler
from gentoolkit_sampling.targets.analytic import Banana
from gentoolkit_sampling.targets.logistic import LogisticRegression, logistic_regression

COLUMNS = [1, 4, 8, 9, 21]  # texture, smoothness, symmetry, fractal dimension, worst texture: 6 parameters


class Scaled(LogisticRegression):
    """The same posterior with its minibatch gradient's likelihood term scaled by ``factor``."""

    factor = 1.0

    def minibatch_grad(self, x, index):
        prior = -x / self.prior_scale**2
        return self.factor * (super().minibatch_grad(x, index) - prior) + prior


@pytest.fixture(scope="module")
def posterior():
    data = logistic_regression()
    target = Scaled(data.features[:, COLUMNS], data.labels)
    nuts = run_chains(make_sampler("nuts"), target, num_chains=4, num_warmup=150, num_samples=300,
                      generator=torch.Generator().manual_seed(0))
    draws = nuts.samples.reshape(-1, target.dim)
    return target, draws.mean(0), draws.std(0)


def sgld(target, factor: float = 1.0) -> torch.Tensor:
    target.factor = factor
    chains = run_chains(make_sampler("sgld", {"step_size": 0.002, "batch_size": 64}), target, num_chains=32,
                        num_warmup=500, num_samples=1000, generator=torch.Generator().manual_seed(1))
    assert chains.grad_evals.tolist() == pytest.approx([1000 * 64 / 569] * 32)  # minibatches count as fractions
    return chains.samples.reshape(-1, target.dim)


def test_sgld_matches_the_nuts_posterior_and_a_wrong_gradient_scale_does_not(posterior):
    target, mean, sd = posterior

    def close(draws):
        z = ((draws.mean(0) - mean) / sd).abs().max().item()
        ratio = (draws.std(0) / sd - 1).abs().max().item()
        return z < 0.3 and ratio < 0.15, (round(z, 3), round(ratio, 3))

    ok, numbers = close(sgld(target))
    print("SGLD vs NUTS: max |mean diff| / sd, max |sd ratio - 1|:", numbers)
    assert ok, numbers
    for factor in (64 / 569, 2.0):  # the N/n factor forgotten; the drift doubled (eps grad, not eps/2 grad)
        ok, numbers = close(sgld(target, factor))
        print(f"likelihood gradient x {factor:.3f}:", numbers)
        assert not ok, (factor, numbers)


def test_sgld_refuses_targets_without_minibatch_gradients_and_too_large_batches():
    with pytest.raises(GentoolkitError, match="no minibatch gradient.*ula"):
        run_chains(make_sampler("sgld"), Banana(), num_chains=2, num_warmup=1, num_samples=1)
    with pytest.raises(GentoolkitError, match="batch_size = 1000 exceeds the 569"):
        run_chains(make_sampler("sgld", {"batch_size": 1000}), logistic_regression(), num_chains=2, num_samples=1)
    with pytest.raises(GentoolkitError, match="decay"):
        make_sampler("sgld", {"decay": 0.5})
