"""Targets: analytic densities against torch.distributions, the logistic regression's log-joint,
the registry of targets, and a registry model's density reached only through the Density protocol."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
from torch import distributions as D

import gentoolkit_sampling
from gentoolkit import Toolkit
from gentoolkit.errors import GentoolkitError, UnknownNameError
from gentoolkit_sampling.samplers.base import run_chains
from gentoolkit_sampling.samplers.catalog import make_sampler
from gentoolkit_sampling.targets.analytic import Banana, Funnel, Mixture, correlated_gaussian, gaussian, \
    ill_conditioned_gaussian
from gentoolkit_sampling.targets.logistic import logistic_regression
from gentoolkit_sampling.targets.model import ModelTarget
from gentoolkit_sampling.task import build_target

ROOT = Path(__file__).resolve().parents[2]


def thirdparty(name: str):
    spec = importlib.util.spec_from_file_location(f"thirdparty_{name}", ROOT / "tests/core/thirdparty" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def kit():
    return Toolkit(plugins=[gentoolkit_sampling, thirdparty("pixel_gaussian")], entrypoints=False)


def test_analytic_log_densities_match_torch_distributions():
    x = torch.randn(7, 2, dtype=torch.float64) * 2
    target = correlated_gaussian(0.9, (1.0, 2.0))
    reference = D.MultivariateNormal(torch.zeros(2, dtype=torch.float64), target.cov)
    torch.testing.assert_close(target.log_prob(x), reference.log_prob(x))
    banana = Banana(2.0, 0.5)
    expected = D.Normal(0, 2.0).log_prob(x[:, 0]) + D.Normal(0.5 * (x[:, 0] ** 2 - 4), 1.0).log_prob(x[:, 1])
    torch.testing.assert_close(banana.log_prob(x), expected)
    value, grad = banana.log_prob_and_grad(x)
    leaf = x.clone().requires_grad_(True)
    (autograd,) = torch.autograd.grad(banana.log_prob(leaf).sum(), leaf)
    torch.testing.assert_close(value, expected)
    torch.testing.assert_close(grad, autograd)
    funnel = Funnel(dim=3)
    y = torch.randn(5, 3, dtype=torch.float64)
    expected = D.Normal(0, 3.0).log_prob(y[:, 0]) + D.Normal(0, torch.exp(y[:, :1] / 2)).log_prob(y[:, 1:]).sum(1)
    torch.testing.assert_close(funnel.log_prob(y), expected)
    mixture = Mixture(2.0, 0.75)
    comp = D.Independent(D.Normal(torch.tensor([[2.0, 2.0], [-2.0, -2.0]], dtype=torch.float64), 0.75), 1)
    expected = D.MixtureSameFamily(D.Categorical(torch.tensor([0.5, 0.5], dtype=torch.float64)), comp).log_prob(x)
    torch.testing.assert_close(mixture.log_prob(x), expected)


@pytest.mark.parametrize("target", [Banana(), Funnel(dim=4), Mixture(), ill_conditioned_gaussian(),
                                    correlated_gaussian()], ids=lambda t: t.name)
def test_exact_samplers_agree_with_the_stated_moments(target):
    x = target.exact_sample(200_000, torch.Generator().manual_seed(0))
    # Funnel: sd of x_i is exp(9/4) ~ 9.5 with very heavy tails, so only its v coordinate is checked tightly.
    cols = [0] if isinstance(target, Funnel) else list(range(target.dim))
    torch.testing.assert_close(x.std(0)[cols], target.std[cols], rtol=0.02, atol=0.0)
    assert (x.mean(0)[cols] - target.mean[cols]).abs().max() < 0.02 * target.std.max()


def test_gaussian_conditionals_are_exact():
    target = correlated_gaussian(0.8, (1.0, 3.0))
    x = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    mean, std = target.conditional(0, x)
    # x0 | x1 ~ N(rho s0/s1 x1, s0^2 (1 - rho^2))
    torch.testing.assert_close(mean, torch.tensor([0.8 / 3 * -1.0], dtype=torch.float64))
    assert std.item() == pytest.approx(math.sqrt(1 - 0.64))


def test_logistic_regression_log_joint_matches_a_direct_computation():
    target = logistic_regression()
    assert target.dim == 31 and target.features.shape == (569, 30)
    assert target.features.mean(0).abs().max() < 1e-8
    assert (target.features.std(0, unbiased=False) - 1).abs().max() < 1e-6
    beta = torch.randn(3, 31, dtype=torch.float64) * 0.3
    p = torch.sigmoid(beta[:, :1] + beta[:, 1:] @ target.features.T)
    likelihood = D.Bernoulli(probs=p).log_prob(target.labels).sum(1)
    prior = D.Normal(0.0, 1.0).log_prob(beta).sum(1)
    torch.testing.assert_close(target.log_prob(beta), likelihood + prior)
    assert target.param_names[:2] == ["alpha", "beta[mean_radius]"]
    x = beta.clone().requires_grad_(True)
    (autograd,) = torch.autograd.grad(target.log_prob(x).sum(), x)
    value, grad = target.log_prob_and_grad(beta)
    torch.testing.assert_close(grad, autograd)
    torch.testing.assert_close(value, likelihood + prior)


def test_targets_are_registered_through_the_plugins_own_hook(kit):
    registry = kit.contributions("register_targets", "target")
    assert {"gaussian", "correlated-gaussian", "ill-conditioned-gaussian", "banana", "funnel", "mixture",
            "logistic-regression"} <= set(registry.names())
    assert registry.entry("banana").plugin == "sampling"  # the entry point's name, as an installed run records
    banana = build_target(kit, "banana", {"curvature": 0.1})
    assert banana.curvature == 0.1
    with pytest.raises(UnknownNameError, match="Did you mean 'banana'"):
        build_target(kit, "bananna", {})
    with pytest.raises(GentoolkitError, match="targets.banana.curve"):
        build_target(kit, "banana", {"curve": 1.0})


def test_a_third_party_plugin_registers_a_target(kit):
    from gentoolkit import hookimpl
    from gentoolkit_sampling.spec import TargetSpec

    class Plugin:
        @staticmethod
        @hookimpl
        def register_targets(register):
            register(TargetSpec("wide-gaussian", lambda scale=3.0: gaussian(dim=2, mean=0.0, scale=scale), "",
                                {"scale": 3.0}))

    kit = Toolkit(plugins=[gentoolkit_sampling, Plugin()], entrypoints=False)
    assert build_target(kit, "wide-gaussian", {}).std.tolist() == [3.0, 3.0]


def test_a_registry_density_model_is_sampled_through_the_protocol(kit, tmp_path):
    """A third-party pixel Gaussian (mean 0.5, sd 1) on 2x2 images in [0, 1]: its density restricted to
    [0, 1] is a truncated normal, sampled by NUTS in logit space with the Jacobian accounted for."""
    from scipy import stats

    model = kit.create_model("pixel-gaussian", image_shape=[1, 2, 2])
    path = kit.save_model(model, tmp_path / "model")
    target = build_target(kit, f"model:{path}", {})
    assert isinstance(target, ModelTarget) and target.dim == 4 and target.bounds == (0.0, 1.0)
    chains = run_chains(make_sampler("nuts"), target, num_chains=4, num_warmup=100, num_samples=200,
                        generator=torch.Generator().manual_seed(0))
    images = target.to_items(chains.samples.reshape(-1, 4).to(target.dtype))
    assert images.shape[1:] == (1, 2, 2) and images.min() >= 0 and images.max() <= 1
    truth = stats.truncnorm(-0.5, 0.5, loc=0.5, scale=1.0)
    assert images.mean().item() == pytest.approx(truth.mean(), abs=0.03)
    assert images.var().item() == pytest.approx(truth.var(), rel=0.1)


def test_a_model_density_without_gradient_is_refused_by_gradient_samplers_only(kit):
    """A Density computed without autograd (as discrete likelihoods are) must not be steered by the
    logit Jacobian alone: gradient samplers refuse it, random-walk MH samples it."""
    model = kit.create_model("pixel-gaussian", image_shape=[1, 1, 2])
    log_prob = model.log_prob
    model.log_prob = lambda x, condition=None: log_prob(x).detach()
    target = ModelTarget(model, "model:detached")
    with pytest.raises(GentoolkitError, match="no gradient in its input.*rwmh"):
        run_chains(make_sampler("mala"), target, num_chains=2, num_warmup=2, num_samples=2)
    chains = run_chains(make_sampler("rwmh"), target, num_chains=2, num_warmup=2, num_samples=2)
    assert chains.samples.shape == (2, 2, 2)


def test_a_model_without_a_usable_density_is_refused(kit):
    with pytest.raises(GentoolkitError, match="not a gentoolkit Density"):
        ModelTarget(object())
