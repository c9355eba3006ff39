"""Bad input gives a clear GentoolkitError or a counted divergence, never a silent wrong answer."""

from __future__ import annotations

import math

import pytest
import torch

from gentoolkit.errors import ConfigError, GentoolkitError
from gentoolkit_sampling.samplers.base import run_chains
from gentoolkit_sampling.samplers.catalog import SAMPLERS, make_sampler
from gentoolkit_sampling.targets.analytic import Banana
from gentoolkit_sampling.targets.base import Target


class Custom(Target):
    """A 1-D standard normal whose log-density is replaced by ``value`` where x > ``edge``."""

    dim = 1

    def __init__(self, value: float, edge: float = 1.0, name: str = "custom"):
        self.value, self.edge, self.name = value, edge, name

    def log_prob(self, x):
        normal = -0.5 * x[:, 0] ** 2
        return torch.where(x[:, 0] > self.edge, torch.full_like(normal, self.value), normal)


def gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


@pytest.mark.parametrize("name", ["nuts", "hmc", "mala"])
def test_nan_log_density_is_a_counted_divergence_and_never_accepted(name):
    chains = run_chains(make_sampler(name), Custom(math.nan), num_chains=4, num_warmup=50, num_samples=100,
                        generator=gen(), init=torch.zeros(1, 1))
    assert chains.num_divergent > 0
    assert chains.samples.max() <= 1.0  # no draw from where the density is undefined


def test_nan_log_density_is_rejected_by_random_walk():
    chains = run_chains(make_sampler("rwmh"), Custom(math.nan), num_chains=4, num_warmup=100, num_samples=300,
                        generator=gen(), init=torch.zeros(1, 1))
    assert chains.samples.max() <= 1.0 and chains.accept_prob.min() == 0


def test_ula_refuses_steps_into_undefined_density_and_counts_them():
    chains = run_chains(make_sampler("ula", {"step_size": 0.5}), Custom(math.nan), num_chains=4, num_warmup=0,
                        num_samples=200, generator=gen(), init=torch.zeros(1, 1))
    assert chains.num_divergent > 0 and chains.samples.max() <= 1.0


@pytest.mark.parametrize("name", ["nuts", "rwmh"])
def test_positive_infinite_log_density_raises(name):
    with pytest.raises(GentoolkitError, match=r"log_prob is \+inf .* improper"):
        run_chains(make_sampler(name), Custom(math.inf), num_chains=4, num_warmup=50, num_samples=50,
                   generator=gen(), init=torch.zeros(1, 1))


def test_non_finite_start_raises():
    with pytest.raises(GentoolkitError, match="starting point .* not finite"):
        run_chains(make_sampler("nuts"), Banana(), num_chains=2, init=torch.tensor([[0.0, math.nan]]))


def test_start_outside_the_support_raises():
    with pytest.raises(GentoolkitError, match="log_prob is -inf at the starting point"):
        run_chains(make_sampler("rwmh"), Custom(-math.inf), num_chains=2, init=torch.tensor([[2.0]]))


@pytest.mark.parametrize("name", [n for n in SAMPLERS if n not in ("gibbs", "imh")])  # no step size
@pytest.mark.parametrize("step", [0.0, -0.1, math.inf])
def test_step_size_must_be_positive(name, step):
    with pytest.raises(GentoolkitError, match="step_size .* must be a finite number > 0"):
        make_sampler(name, {"step_size": step})


def test_unknown_sampler_and_parameter_are_refused():
    with pytest.raises(ConfigError, match="Unknown sampler 'nutz'"):
        make_sampler("nutz")
    with pytest.raises(ConfigError, match="no parameter.*num_steps"):
        make_sampler("nuts", {"num_steps": 3})
    with pytest.raises(GentoolkitError, match="target_accept"):
        make_sampler("nuts", {"target_accept": 1.2})


def test_gibbs_needs_tractable_conditionals():
    with pytest.raises(GentoolkitError, match="no tractable full conditionals.*mwg"):
        run_chains(make_sampler("gibbs"), Banana(), num_chains=2, num_warmup=1, num_samples=1)


def test_log_prob_of_the_wrong_shape_raises():
    class Bad(Custom):
        def log_prob(self, x):
            return -0.5 * x**2  # (B, 1) instead of (B,)

    with pytest.raises(GentoolkitError, match="one value per row"):
        run_chains(make_sampler("rwmh"), Bad(0.0), num_chains=2, num_warmup=1, num_samples=1)


def test_a_log_density_without_gradient_is_refused_by_gradient_samplers():
    class Detached(Custom):
        def log_prob(self, x):
            return super().log_prob(x).detach()

    with pytest.raises(GentoolkitError, match="no gradient.*rwmh"):
        run_chains(make_sampler("nuts"), Detached(0.0, edge=10.0), num_chains=2, num_warmup=1, num_samples=1)
