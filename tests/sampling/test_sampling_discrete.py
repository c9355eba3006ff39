"""The molecules prior as a discrete target: pi(x) ∝ p(x)^alpha exp(beta s(x)) over strings, sampled by
independence Metropolis-Hastings with the model as proposal. Checked against exact answers on a
finite model (by enumeration), then on the shipped prior and QED through the registry against
self-normalised importance sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gentoolkit import ItemSpec, RuntimeOptions, Toolkit
from gentoolkit.errors import GentoolkitError
from gentoolkit_sampling.diagnostics import arviz
from gentoolkit_sampling.samplers.base import run_chains
from gentoolkit_sampling.samplers.catalog import make_sampler
from gentoolkit_sampling.targets.analytic import Banana
from gentoolkit_sampling.targets.tilted import TiltedModel

PROBS = {"C": 0.4, "CC": 0.25, "CCO": 0.15, "c1ccccc1": 0.1, "CC(": 0.1}  # "CC(" is invalid: score NaN
SCORES = {"C": 0.1, "CC": 0.3, "CCO": 0.6, "c1ccccc1": 0.9, "CC(": math.nan}


class FiniteStrings:
    """A categorical model over a few strings: a Sampler and exact Density, like a SMILES prior."""

    item_spec = ItemSpec("smiles")
    likelihood_kind = "exact"

    def __init__(self, probs: dict[str, float]):
        self.items, self.probs = list(probs), torch.tensor(list(probs.values()), dtype=torch.float64)

    def sample(self, n, *, condition=None, generator=None):
        return [self.items[i] for i in torch.multinomial(self.probs, n, replacement=True, generator=generator)]

    def log_prob(self, x, *, condition=None):
        return torch.log(self.probs[[self.items.index(s) for s in x]])


def score(items):
    return [SCORES[s] for s in items]


def exact(beta: float, alpha: float) -> tuple[dict[str, float], float]:
    """pi over the strings, and IMH's stationary acceptance rate sum_x,y pi(x) q(y) min(1, w(y) / w(x))."""
    valid = [s for s in PROBS if not math.isnan(SCORES[s])]
    weight = {s: PROBS[s] ** (alpha - 1) * math.exp(beta * SCORES[s]) for s in valid}  # w = pi / q
    total = sum(PROBS[s] * weight[s] for s in valid)
    pi = {s: PROBS[s] * weight[s] / total for s in valid}
    accept = sum(pi[x] * PROBS[y] * min(1.0, weight[y] / weight[x]) for x in valid for y in valid)
    return pi, accept


def within_mcse(trace: np.ndarray, truth: float, k: float = 4.0) -> tuple[float, float]:
    """|mean - truth| and k Monte Carlo standard errors of a (chains, draws) trace (arviz bulk ESS)."""
    az = arviz()
    ess = float(az.ess(az.convert_to_dataset(trace), method="mean")["x"])
    return abs(trace.mean() - truth), k * trace.std() / math.sqrt(ess)


@pytest.mark.parametrize("beta, alpha", [(3.0, 1.0), (2.0, 0.5)])
def test_imh_matches_the_exact_tilted_distribution_and_acceptance_rate(beta, alpha):
    target = TiltedModel(FiniteStrings(PROBS), score, beta=beta, alpha=alpha, name="finite")
    chains = run_chains(make_sampler("imh", {"block": 32}), target, num_chains=8, num_warmup=100,
                        num_samples=1500, generator=torch.Generator().manual_seed(0))
    pi, accept = exact(beta, alpha)
    draws = [s for chain in chains.items for s in chain]
    assert "CC(" not in draws  # outside the target
    mean_score = sum(pi[s] * SCORES[s] for s in pi)
    error, tolerance = within_mcse(chains.samples[:, :, 0].numpy(), mean_score)
    assert error < tolerance, (chains.samples[:, :, 0].mean(), mean_score)
    error, tolerance = within_mcse(chains.accept_prob.numpy(), accept)
    assert error < tolerance, (chains.accept_prob.mean(), accept)
    for s, p in pi.items():  # every string's frequency
        error, tolerance = within_mcse(np.array([[x == s for x in chain] for chain in chains.items], float), p)
        assert error < tolerance, (s, p)
    log_prior = chains.samples[:, :, 1]
    assert torch.allclose(log_prior[0], torch.log(torch.tensor([PROBS[s] for s in chains.items[0]],
                                                               dtype=torch.float64)))
    assert chains.grad_evals.sum() == 0 and chains.log_prob_evals.tolist() == [1500] * 8


def test_with_beta_zero_and_alpha_one_the_target_is_the_model_and_every_valid_proposal_is_accepted():
    target = TiltedModel(FiniteStrings(PROBS), score, beta=0.0, name="finite")
    chains = run_chains(make_sampler("imh"), target, num_chains=2, num_warmup=0, num_samples=200,
                        generator=torch.Generator().manual_seed(1))
    valid = TiltedModel(FiniteStrings({"C": 0.5, "CC": 0.5}), score, beta=0.0, name="finite")
    everything = run_chains(make_sampler("imh"), valid, num_chains=2, num_warmup=0, num_samples=50,
                            generator=torch.Generator().manual_seed(1))
    assert torch.all(everything.accept_prob == 1.0)
    assert chains.accept_prob.mean() == pytest.approx(1 - PROBS["CC("], abs=0.05)  # only "CC(" is refused


def test_bad_discrete_inputs_raise_clear_errors():
    every_item_invalid = TiltedModel(FiniteStrings({"CC(": 1.0}), score, name="finite")
    with pytest.raises(GentoolkitError, match="found no proposal inside the target"):
        run_chains(make_sampler("imh", {"max_init_tries": 3}), every_item_invalid, num_chains=2, num_warmup=0,
                   num_samples=5)
    target = TiltedModel(FiniteStrings(PROBS), score, name="finite")
    with pytest.raises(GentoolkitError, match="use the independence Metropolis-Hastings sampler 'imh'"):
        run_chains(make_sampler("nuts"), target, num_chains=2, num_warmup=5, num_samples=5)
    with pytest.raises(GentoolkitError, match="runs on discrete model targets"):
        run_chains(make_sampler("imh"), Banana(), num_chains=2, num_warmup=5, num_samples=5)
    infinite = TiltedModel(FiniteStrings(PROBS), lambda items: [math.inf] * len(items), name="finite")
    with pytest.raises(GentoolkitError, match="infinite"):
        run_chains(make_sampler("imh"), infinite, num_chains=2, num_warmup=0, num_samples=5)
    with pytest.raises(GentoolkitError, match="must both sample and give an exact log_prob"):
        TiltedModel(object(), score)
    with pytest.raises(GentoolkitError, match="max_init_tries"):
        make_sampler("imh", {"max_init_tries": 0})


def test_the_shipped_prior_tilted_by_qed_through_the_registry_matches_importance_sampling(tmp_path):
    """`gentoolkit sample --target molecules-prior --sampler imh`: the molecules plugin's default-prior and
    its QED component, reached by name. The chains' mean QED equals the self-normalised importance
    sampling estimate from independent prior draws, within both Monte Carlo errors, and is above the
    prior's own mean QED."""
    kit = Toolkit()
    beta = 8.0
    result = kit.run("sampling", overrides={"target": "molecules-prior", "sampler": "imh", "num_chains": 4,
                                            "num_warmup": 20, "num_samples": 150, "plots": False,
                                            "targets": {"molecules-prior": {"beta": beta}}, "ebm": {"epochs": 0}},
                     options=RuntimeOptions(out=tmp_path, progress=False, seed=0))
    run = result.outputs["runs"]["molecules-prior.imh"]
    assert run["target"] == {"name": "molecules-prior", "dim": 2, "discrete": True, "score": "qed",
                             "beta": beta, "alpha": 1.0}
    lines = (tmp_path / "molecules-prior" / "imh" / "draws.tsv").read_text().splitlines()
    assert lines[0] == "chain\tdraw\titem\tscore\tlog_prior" and len(lines) == 1 + 4 * 150
    qed = np.array([float(line.split("\t")[3]) for line in lines[1:]]).reshape(4, 150)

    prior = kit.create_model("default-prior")
    from gentoolkit_sampling.targets.tilted import component_score

    proposals = component_score(kit, "qed", {})(prior.sample(1500, generator=torch.Generator().manual_seed(7)))
    valid = proposals[~np.isnan(proposals)]
    w = np.exp(beta * (valid - valid.max()))
    tilted_mean = float((w * valid).sum() / w.sum())
    ess_is = w.sum() ** 2 / (w**2).sum()
    tilted_sd = math.sqrt(float((w * (valid - tilted_mean) ** 2).sum() / w.sum()))
    az = arviz()
    ess = float(az.ess(az.convert_to_dataset(qed), method="mean")["x"])
    tolerance = 4 * tilted_sd * math.sqrt(1 / ess + 1 / ess_is)
    print(f"mean QED: chains {qed.mean():.4f} (ESS {ess:.0f}), importance sampling {tilted_mean:.4f} "
          f"(ESS {ess_is:.0f}), prior {valid.mean():.4f}; tolerance {tolerance:.4f}")
    assert abs(qed.mean() - tilted_mean) < tolerance
    assert qed.mean() > valid.mean() + 4 * valid.std() / math.sqrt(ess)
    assert result.metrics["molecules-prior.imh.r_hat_max"] < 1.05
