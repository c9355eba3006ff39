"""NumPyro's NUTS on the sampling task's banana: R-hat and ESS per seed for a given warm-up/draws/chains.

The check behind the task's 2,000 draws (plugins/sampling/README.md, "Why 2,000 draws"): with the
same settings NumPyro's R-hat is as ours, so the banana's R-hat is a matter of ESS per chain.
Bench-only requirements: ``pip install -r bench/requirements-sampling-peers.txt``.

    python bench/sampling_banana_numpyro.py                          # 8 chains, 1000 + 1000, seeds 0-2
    python bench/sampling_banana_numpyro.py --draws 2000 --seeds 5
    python bench/sampling_banana_numpyro.py --target-accept 0.9 --dense
"""

from __future__ import annotations

import os

os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
os.environ["JAX_PLATFORMS"] = "cpu"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--target-accept", type=float, default=0.95)
    parser.add_argument("--dense", action="store_true", help="dense mass matrix")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    import jax
    import numpyro
    from numpyro.infer import MCMC, NUTS

    from gentoolkit_sampling.diagnostics import arviz

    numpyro.enable_x64()
    az = arviz()
    scale, curvature = 2.0, 0.5  # the task's banana: x0 ~ N(0, 2^2), x1 | x0 ~ N(0.5 (x0^2 - 4), 1)

    def potential(x):
        return 0.5 * (x[0] / scale) ** 2 + 0.5 * (x[1] - curvature * (x[0] ** 2 - scale**2)) ** 2

    kernel = NUTS(potential_fn=potential, target_accept_prob=args.target_accept, dense_mass=args.dense)
    mcmc = MCMC(kernel, num_warmup=args.warmup, num_samples=args.draws, num_chains=args.chains,
                chain_method="vectorized", progress_bar=False)
    for seed in range(args.seeds):
        key = jax.random.PRNGKey(seed)
        init = jax.random.uniform(key, (args.chains, 2), minval=-2, maxval=2, dtype="float64")
        cpu = time.process_time()
        mcmc.run(key, init_params=init, extra_fields=("num_steps", "diverging"))
        x = np.asarray(mcmc.get_samples(group_by_chain=True))
        extra = mcmc.get_extra_fields(group_by_chain=True)
        idata = az.from_dict(posterior={"x0": x[..., 0], "x1": x[..., 1]})
        rhat, bulk, tail = (az.rhat(idata, method="rank"), az.ess(idata, method="bulk"),
                            az.ess(idata, method="tail"))
        print(f"seed {seed}: R-hat x0 {float(rhat.x0):.4f} x1 {float(rhat.x1):.4f}; bulk ESS {float(bulk.x0):.0f} "
              f"{float(bulk.x1):.0f}; tail ESS {float(tail.x0):.0f} {float(tail.x1):.0f}; divergences "
              f"{int(extra['diverging'].sum())}; gradients {int(extra['num_steps'].sum())}; "
              f"CPU {time.process_time() - cpu:.1f} s (the first seed includes JIT compilation)", flush=True)


if __name__ == "__main__":
    main()
