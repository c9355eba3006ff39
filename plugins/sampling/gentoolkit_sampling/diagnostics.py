"""Convergence and efficiency diagnostics of a run of chains, from arviz (not hand-written):
rank-normalised split R-hat and bulk/tail ESS (Vehtari et al. 2021), plus ESS per gradient (or
density) evaluation and per second, acceptance and divergences."""

from __future__ import annotations

import math
import warnings
from typing import Any

from gentoolkit_sampling.samplers.base import Chains


def arviz():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # arviz 0.23 announces its 1.0 refactor on import
        import arviz

    # arviz 0.23's numba path calls float() on a one-element array in its MCSE, which numpy >= 2.4
    # refuses; the plain numpy path gives the same numbers. (numba arrives with PyOD, for one.)
    arviz.Numba.disable_numba()
    return arviz


def to_inference_data(chains: Chains) -> Any:
    """The draws as an arviz InferenceData: one variable per parameter, sample stats alongside."""
    az = arviz()
    samples = chains.samples.numpy()
    posterior = {name: samples[:, :, i] for i, name in enumerate(chains.param_names)}
    stats = {"acceptance_rate": chains.accept_prob.numpy(), "diverging": chains.diverging.numpy()}
    return az.from_dict(posterior=posterior, sample_stats=stats)


def per_parameter(chains: Chains, idata: Any | None = None) -> dict[str, dict[str, float]]:
    """R-hat, bulk and tail ESS, mean and sd of each parameter."""
    az = arviz()
    idata = idata if idata is not None else to_inference_data(chains)
    rhat = az.rhat(idata, method="rank")
    bulk = az.ess(idata, method="bulk")
    tail = az.ess(idata, method="tail")
    post = idata.posterior
    return {name: {"r_hat": float(rhat[name]), "ess_bulk": float(bulk[name]), "ess_tail": float(tail[name]),
                   "mean": float(post[name].mean()), "sd": float(post[name].std())} for name in chains.param_names}


def summarize(chains: Chains, idata: Any | None = None) -> dict[str, float]:
    """Worst-case diagnostics over the parameters, and the cost of the sampling phase."""
    params = per_parameter(chains, idata)
    ess_bulk = min(p["ess_bulk"] for p in params.values())
    ess_tail = min(p["ess_tail"] for p in params.values())
    grads = float(chains.grad_evals.sum())
    evaluations = grads if grads > 0 else float(chains.log_prob_evals.sum())
    return {
        "r_hat_max": max(p["r_hat"] for p in params.values()),
        "ess_bulk_min": ess_bulk,
        "ess_tail_min": ess_tail,
        "ess_per_eval": ess_bulk / evaluations if evaluations else math.nan,
        "ess_per_second": ess_bulk / chains.sample_seconds if chains.sample_seconds > 0 else math.nan,
        "accept_rate": float(chains.accept_prob.mean()),
        "divergences": float(chains.num_divergent),
        "grad_evals": grads,
        "log_prob_evals": float(chains.log_prob_evals.sum()),
        "num_chains": chains.num_chains,
        "seconds_warmup": chains.warmup_seconds,
        "seconds_sampling": chains.sample_seconds,
        "cpu_seconds_warmup": chains.warmup_cpu_seconds,
        "cpu_seconds_sampling": chains.sample_cpu_seconds,
    }
