"""The ``sampling`` task's default config (also its schema); no heavy imports, so the CLI reads it cheaply.

Each sampler's table mirrors its parameters dataclass (a test keeps them equal, but for the
overrides named in TASK_OVERRIDES).
"""

from __future__ import annotations

from typing import Any

TASK_OVERRIDES = {("nuts", "target_accept")}

DEFAULTS: dict[str, Any] = {
    "target": "banana,logistic-regression",  # registered targets (comma-separated), model:<name or model.json>; "" none
    "sampler": "nuts,rwmh",  # nuts | hmc | rwmh | mala | ula | sgld | gibbs | mwg | imh (comma-separated)
    "num_chains": 8,  # one batch: more chains cost little more time per iteration
    "num_warmup": 1000,
    # 2000, not Stan's 1000: R-hat < 1.01 needs about 100 bulk ESS per chain (Vehtari et al. 2021), and NUTS
    # gets about 0.08 per draw on the banana's x0 (NumPyro too), so 1000 draws left R-hat at 1.015-1.023 (seeds
    # 0-2). 2000 gives 1.005-1.007 there; 3000 would be safer on other seeds (README).
    "num_samples": 2000,
    "targets": {},  # per-target params, e.g. [targets.banana] curvature = 0.3 (see `gentoolkit sample --list`)
    "plots": True,  # trace, rank and pair plots per (target, sampler)
    "plot_params": 4,  # parameters shown in the plots
    # target_accept 0.95, not NUTSParams' 0.8: the banana's curved tails diverge at 0.8 (NumPyro's NUTS too),
    # and raising it is what a Stan user does about divergences (adapt_delta).
    "nuts": {"step_size": 0.1, "max_tree_depth": 10, "target_accept": 0.95, "adapt_step_size": True,
             "adapt_mass_matrix": True, "dense_mass": False},
    "hmc": {"step_size": 0.1, "num_steps": 16, "jitter": 0.2, "target_accept": 0.8, "adapt_step_size": True,
            "adapt_mass_matrix": True, "dense_mass": False},
    "rwmh": {"step_size": 0.5, "target_accept": 0.0, "adapt_step_size": True},
    "mala": {"step_size": 0.1, "target_accept": 0.574, "adapt_step_size": True},
    "ula": {"step_size": 0.01},
    "sgld": {"step_size": 0.001, "decay_steps": 1000.0, "decay": 0.55, "batch_size": 32},
    "gibbs": {},
    "mwg": {"step_size": 0.5, "target_accept": 0.44, "adapt_step_size": True},
    "imh": {"block": 64, "max_init_tries": 100},  # independence MH on discrete model targets (molecules-prior)
    # The convolutional EBM trained by short-run Langevin with a replay buffer; epochs = 0 skips it.
    # 15 epochs (about 25 s of CPU) over 3: FID 5.7 against 8.3 and strokes, not blobs (README).
    "ebm": {"dataset": "digits", "epochs": 15, "batch_size": 64, "num_samples": 500, "params": {}},
}
_ADAPTED = {"step_size": "> 0", "target_accept": "[0, 1)"}
RANGES: dict[str, Any] = {
    "num_chains": ">= 1", "num_warmup": ">= 0", "num_samples": ">= 1", "plot_params": ">= 1",
    "nuts": {**_ADAPTED, "max_tree_depth": ">= 1"}, "hmc": {**_ADAPTED, "num_steps": ">= 1", "jitter": "[0, 1)"},
    "rwmh": _ADAPTED, "mala": _ADAPTED, "mwg": _ADAPTED, "ula": {"step_size": "> 0"},
    "imh": {"block": ">= 1", "max_init_tries": ">= 1"},
    "sgld": {"step_size": "> 0", "decay_steps": "> 0", "decay": "(0.5, 1]", "batch_size": ">= 1"},
    "ebm": {"epochs": ">= 0", "batch_size": ">= 1", "num_samples": ">= 1"},
}
