"""The sampling plugin's NUTS beside NumPyro's NUTS and emcee, on the same targets, in one process.

JAX, NumPyro and emcee are for this benchmark only: no plugin depends on them. Install them into a
venv that sees gentoolkit's packages (here: a venv whose site-packages holds a .pth file naming the
shared venv's), never into the plugin:

    pip install -r bench/requirements-sampling-peers.txt    # jax[cpu], numpyro, emcee (pinned)
    python bench/sampling_peers.py                 # 3 repeats, 4 chains, 1000 warm-up + 1000 draws
    python bench/sampling_peers.py --quick         # 1 repeat, 200 + 200 (a smoke run)

Targets: the banana, a bivariate Gaussian with rho = 0.99, a 10-D Gaussian with scales 0.1...1
and the Bayesian logistic regression (breast cancer, 31 parameters), each written once in torch
(ours, emcee) and once in JAX (NumPyro) with float64 everywhere. Runs are interleaved (repeat ->
target -> sampler), one thread each (torch, XLA and BLAS). R-hat and bulk ESS come from arviz for
all three. ESS/s uses the sampling phase only, in wall time and in the process's CPU time (other
jobs' load inflates the first); NumPyro's first call (JIT compilation plus warm-up) is reported apart. Writes the min / median / max over repeats to docs/benchmarks.md.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = "1"
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
os.environ["JAX_PLATFORMS"] = "cpu"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section  # noqa: E402

TARGETS = ("banana", "correlated-gaussian", "ill-conditioned-gaussian", "logistic-regression")
TARGET_ACCEPT = {"banana": 0.95, "correlated-gaussian": 0.8, "ill-conditioned-gaussian": 0.8,
                 "logistic-regression": 0.8}  # banana: as the task


def torch_target(name: str):
    from gentoolkit_sampling.targets.analytic import Banana, correlated_gaussian, ill_conditioned_gaussian
    from gentoolkit_sampling.targets.logistic import logistic_regression

    return {"banana": Banana, "correlated-gaussian": lambda: correlated_gaussian(0.99),
            "ill-conditioned-gaussian": ill_conditioned_gaussian,
            "logistic-regression": logistic_regression}[name]()


def jax_potential(name: str, target):
    """-log p in JAX, the same density as the torch target (checked at a random point in main)."""
    import jax.numpy as jnp
    from jax.nn import softplus

    if name == "banana":
        s, c = target.scale, target.curvature

        def log_prob(x):
            return (-0.5 * (x[0] / s) ** 2 - jnp.log(s) - 0.5 * jnp.log(2 * jnp.pi)
                    - 0.5 * (x[1] - c * (x[0] ** 2 - s**2)) ** 2 - 0.5 * jnp.log(2 * jnp.pi))
    elif name in ("correlated-gaussian", "ill-conditioned-gaussian"):
        precision, log_norm = jnp.asarray(target.precision.numpy()), float(target._log_norm)

        def log_prob(x):
            return -0.5 * x @ precision @ x + log_norm
    else:
        features, labels = jnp.asarray(target.features.numpy()), jnp.asarray(target.labels.numpy())
        scale, dim = target.prior_scale, target.dim

        def log_prob(x):
            logits = x[0] + features @ x[1:]
            prior = -0.5 * jnp.sum((x / scale) ** 2) - dim * (jnp.log(scale) + 0.5 * jnp.log(2 * jnp.pi))
            return -jnp.sum(softplus(-(2 * labels - 1) * logits)) + prior
    return lambda x: -log_prob(x), log_prob


def diagnose(samples: np.ndarray) -> tuple[float, float]:
    """Worst R-hat and bulk ESS over the parameters of draws (chains, draws, dim), by arviz."""
    from gentoolkit_sampling.diagnostics import arviz

    az = arviz()
    idata = az.from_dict(posterior={f"x{i}": samples[:, :, i] for i in range(samples.shape[2])})
    return (float(max(az.rhat(idata, method="rank").to_array().values)),
            float(min(az.ess(idata, method="bulk").to_array().values)))


def run_ours(target, name: str, chains: int, warmup: int, draws: int, seed: int) -> dict:
    from gentoolkit_sampling.samplers.base import run_chains
    from gentoolkit_sampling.samplers.catalog import make_sampler

    result = run_chains(make_sampler("nuts", {"target_accept": TARGET_ACCEPT[name]}), target, num_chains=chains,
                        num_warmup=warmup, num_samples=draws, generator=torch.Generator().manual_seed(seed))
    rhat, ess = diagnose(result.samples.numpy())
    return {"rhat": rhat, "ess": ess, "evals": float(result.grad_evals.sum()), "seconds": result.sample_seconds,
            "warmup_seconds": result.warmup_seconds, "cpu": result.sample_cpu_seconds,
            "divergences": result.num_divergent}


class NumPyroRunner:
    """One MCMC object per target, reused across repeats. A first, untimed call (seed 10,000)
    compiles warm-up and sampling; its wall time is reported as the compile cost."""

    def __init__(self, name: str, target, chains: int, warmup: int, draws: int):
        from numpyro.infer import MCMC, NUTS

        potential, _ = jax_potential(name, target)
        kernel = NUTS(potential_fn=potential, target_accept_prob=TARGET_ACCEPT[name])
        self.mcmc = MCMC(kernel, num_warmup=warmup, num_samples=draws, num_chains=chains,
                         chain_method="vectorized", progress_bar=False)
        self.dim, self.chains = target.dim, chains
        began, cpu_began = time.perf_counter(), time.process_time()
        self(10_000)
        self.first_call_seconds = time.perf_counter() - began
        self.first_call_cpu = time.process_time() - cpu_began

    def __call__(self, seed: int) -> dict:
        import jax

        key = jax.random.PRNGKey(seed)
        init = jax.random.uniform(key, (self.chains, self.dim), minval=-2, maxval=2, dtype="float64")
        began = time.perf_counter()
        self.mcmc.warmup(key, init_params=init, extra_fields=("num_steps", "diverging"), collect_warmup=False)
        jax.block_until_ready(self.mcmc.post_warmup_state)
        warmed, cpu = time.perf_counter(), time.process_time()
        self.mcmc.run(self.mcmc.post_warmup_state.rng_key, extra_fields=("num_steps", "diverging"))
        samples = np.asarray(self.mcmc.get_samples(group_by_chain=True))
        done, cpu = time.perf_counter(), time.process_time() - cpu
        extra = self.mcmc.get_extra_fields(group_by_chain=True)
        rhat, ess = diagnose(samples)
        return {"rhat": rhat, "ess": ess, "evals": float(np.sum(extra["num_steps"])), "seconds": done - warmed,
                "warmup_seconds": warmed - began, "cpu": cpu, "divergences": int(np.sum(extra["diverging"]))}


def run_emcee(target, walkers: int, warmup: int, draws: int, seed: int) -> dict:
    import emcee

    def log_prob(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return target.log_prob(torch.from_numpy(x)).numpy()

    rng = np.random.default_rng(seed)
    sampler = emcee.EnsembleSampler(walkers, target.dim, log_prob, vectorize=True)
    sampler.random_state = np.random.RandomState(seed).get_state()
    state = sampler.run_mcmc(rng.uniform(-2, 2, (walkers, target.dim)), warmup)
    sampler.reset()
    began, cpu = time.perf_counter(), time.process_time()
    sampler.run_mcmc(state, draws)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    rhat, ess = diagnose(np.swapaxes(sampler.get_chain(), 0, 1))  # walkers as chains
    return {"rhat": rhat, "ess": ess, "evals": float(walkers * draws), "seconds": seconds, "warmup_seconds": 0.0,
            "cpu": cpu, "divergences": 0, "accept": float(np.mean(sampler.acceptance_fraction))}


def spread(values: list[float], fmt: str) -> str:
    if len(values) == 1:
        return format(values[0], fmt)
    return f"{format(min(values), fmt)} / {format(statistics.median(values), fmt)} / {format(max(values), fmt)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    import jax
    import numpyro

    numpyro.enable_x64()
    torch.set_num_threads(1)
    repeats, warmup, draws = (1, 200, 200) if args.quick else (args.repeats, args.warmup, args.draws)
    chains = 4
    targets = {name: torch_target(name) for name in TARGETS}
    for name, target in targets.items():  # the JAX densities are the torch ones
        x = torch.randn(target.dim, dtype=torch.float64)
        theirs = float(jax_potential(name, target)[1](jax.numpy.asarray(x.numpy())))
        assert abs(theirs - float(target.log_prob(x[None]))) < 1e-6 * max(1.0, abs(theirs)), name
    numpyro_runs = {name: NumPyroRunner(name, t, chains, warmup, draws) for name, t in targets.items()}
    results: dict[tuple[str, str], list[dict]] = {}
    began, cpu_began, load_began = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    for repeat in range(repeats):
        for name, target in targets.items():
            walkers = max(32, 2 * target.dim + 2)
            for sampler, run in (("gentoolkit NUTS", lambda: run_ours(target, name, chains, warmup, draws, repeat)),
                                 ("NumPyro NUTS", lambda: numpyro_runs[name](repeat)),
                                 (f"emcee ({walkers} walkers)", lambda: run_emcee(target, walkers, warmup, draws,
                                                                                   repeat))):
                result = run()
                results.setdefault((name, sampler), []).append(result)
                print(f"repeat {repeat} {name:20} {sampler:22} R-hat {result['rhat']:.3f} ESS {result['ess']:7.0f} "
                      f"ESS/s {result['ess'] / result['seconds']:8.1f} "
                      f"ESS/CPU s {result['ess'] / result['cpu']:8.1f} "
                      f"ESS/eval {result['ess'] / result['evals']:.4f}", flush=True)
    wall, cpu, load_end = time.perf_counter() - began, time.process_time() - cpu_began, os.getloadavg()[0]
    rows = ["| target | sampler | R-hat (max) | bulk ESS (min) | ESS / s | ESS / CPU s | ESS / evaluation | "
            "evaluations | divergences |", "|---|---|---|---|---|---|---|---|---|"]
    for (name, sampler), runs in results.items():
        per = "density" if sampler.startswith("emcee") else "gradient"
        rows.append(f"| {name} | {sampler} | {spread([r['rhat'] for r in runs], '.3f')} | "
                    f"{spread([r['ess'] for r in runs], '.0f')} | "
                    f"{spread([r['ess'] / r['seconds'] for r in runs], ',.0f')} | "
                    f"{spread([r['ess'] / r['cpu'] for r in runs], ',.0f')} | "
                    f"{spread([r['ess'] / r['evals'] for r in runs], '.4f')} per {per} | "
                    f"{spread([r['evals'] for r in runs], ',.0f')} | {spread([r['divergences'] for r in runs], '.0f')} |")
    compile_note = ", ".join(f"{name} {runner.first_call_seconds:.1f} s ({runner.first_call_cpu:.1f} s CPU)"
                             for name, runner in numpyro_runs.items())
    versions = (f"torch {torch.__version__}, jax {jax.__version__}, numpyro {numpyro.__version__}, "
                f"emcee {__import__('emcee').__version__}")
    body = "\n".join(rows) + (
        f"\n\n{chains} chains (NumPyro: `chain_method=\"vectorized\"`, one batch as ours), {warmup} warm-up and "
        f"{draws} kept draws each; emcee: the same warm-up and draws per walker, its walkers taken as chains by "
        f"arviz (they are not independent, so its R-hat and ESS flatter it). {repeats} repeat(s), interleaved, seeds "
        f"0..{repeats - 1}; cells are min / median / max over repeats. One thread for torch, XLA and BLAS; "
        f"float64 everywhere. target_accept 0.95 on the banana (as the `sampling` task), 0.8 elsewhere; "
        "diagonal mass matrices. ESS/s and ESS/CPU s count the sampling phase only (wall and process CPU "
        "time). NumPyro's first call per target "
        f"(JIT compilation + warm-up + sampling, untimed in the table): {compile_note}. {versions} (bench-only: "
        "`pip install -r bench/requirements-sampling-peers.txt`; no plugin depends on them). "
        f"Whole run: {wall:.0f} s wall, {cpu:.0f} s CPU; load average {load_began:.1f} at the start and "
        f"{load_end:.1f} at the end (the 2 "
        "cores were shared with other jobs, so ESS/s is noisier than ESS per evaluation).")
    command = "python bench/sampling_peers.py" + (" --quick" if args.quick else
                                                  f" --repeats {repeats} --warmup {warmup} --draws {draws}")
    write_section("sampling peers", command, body)
    print(body)


if __name__ == "__main__":
    main()
