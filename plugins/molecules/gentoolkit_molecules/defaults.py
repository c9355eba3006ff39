"""The ``molecules`` task's default config, which is also its schema, and the ranges of its numbers.

The default run is a REINVENT-style multi-objective design from the shipped prior: drug-like
(QED), easy to make (SA score), 200-500 Da, and similar to celecoxib, combined geometrically.
"""

CELECOXIB = "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1"

SCORING = {
    "aggregation": "geometric",
    "parallel": 1,
    "components": [
        {"component": "qed", "name": "drug-likeness", "weight": 1.0, "transform": {"type": "none"}},
        {"component": "sa_score", "name": "synthesizability", "weight": 1.0,
         "transform": {"type": "reverse_sigmoid", "low": 2.0, "high": 5.0, "k": 0.5}},
        {"component": "molecular_weight", "name": "mw-200-500", "weight": 1.0,
         "transform": {"type": "double_sigmoid", "low": 200.0, "high": 500.0,
                       "coef_div": 500.0, "coef_si": 20.0, "coef_se": 20.0}},
        {"component": "tanimoto_similarity", "name": "celecoxib-similarity", "weight": 1.0,
         "params": {"smiles": [CELECOXIB], "fingerprint": "ECFP4"},
         "transform": {"type": "sigmoid", "low": 0.0, "high": 0.6, "k": 0.5}},
    ],
}

DEFAULTS = {
    "mode": "rl",  # rl | staged_rl | sample | score | transfer_learning
    "prior": "",  # a prior saved by gentoolkit (path without suffix); "" = the shipped one
    "strict": False,  # refuse a molecule file with invalid lines instead of skipping (and reporting) them
    "objective": "",  # a PMO oracle (qed, celecoxib_rediscovery, ...) to optimise instead of [scoring]
    # RL defaults: PMO's REINVENT hyperparameters, which beat REINVENT 4's on the five objectives of
    # bench/molecules_pmo.py (see the README's Benchmarks), plus Augmented Memory (augmentation_rounds = 2):
    # at 10,000 calls x 3 seeds it gave a mean top-10 AUC of 0.766 against 0.733 without (REINVENT published
    # 0.740), at about 2.2x the CPU per run and no extra oracle calls. augmentation_rounds = 0 is plain REINVENT.
    # REINVENT 4's were sigma 128, lr 1e-4, replay 10 of 100, a Murcko diversity filter of 25, no early stop.
    "rl": {
        "batch_size": 64,
        "sigma": 500.0,
        "learning_rate": 5e-4,
        "max_steps": 1000,  # the oracle budget is what normally ends a run
        "max_oracle_calls": 5000,  # unique valid molecules scored; 0 = unlimited
        # steps without a better top-k mean before stopping (once anything scored > 0); 0 = never. PMO's
        # REINVENT stops after 5; 10 never scored lower on bench/molecules_pmo.py's replays and gained most of
        # what waiting longer gains (celecoxib's slow climb), while a collapsed agent still stops soon.
        "patience": 10,
        "top_k": 100,
        "score_threshold": 0.0,  # stop when a batch's mean score reaches it; 0 = never
        "min_steps": 0,
        "temperature": 1.0,
        "unique_sequences": True,
        "replay_memory": 100,
        "replay_sample": 24,
        "fragments": "largest",  # a sampled "A.B": scored as its largest fragment | keep (whole) | invalid
        "augmentation_rounds": 2,  # Augmented Memory: extra updates per oracle batch on randomised SMILES; 0 = REINVENT
        "selective_memory_purge": True,  # with augmentation_rounds: stop replaying scaffolds the filter penalised
        "checkpoint_every": 5,
    },
    "diversity_filter": {"type": "none", "bucket_size": 25, "minscore": 0.4},  # or IdenticalMurckoScaffold, ...
    "scoring": SCORING,
    # staged_rl: [[stages]] tables with name, scoring and any [rl] key (max_steps, score_threshold, ...)
    "stages": [],
    "sample": {"num_molecules": 1000, "temperature": 1.0, "reference": "default"},
    "score": {"input": ""},  # a .smi/.csv/.sdf file of molecules to score
    "transfer_learning": {
        "dataset": "default",  # a registered dataset name or a molecule file
        "epochs": 5,
        "batch_size": 128,
        "learning_rate": 1e-4,
        "valid_fraction": 0.05,
        "num_samples": 500,  # sampled from the fine-tuned prior to evaluate it
    },
    "output": {"top_n": 100, "grid": 20},  # molecules in top.sdf, and in the top.png grid
}

# The valid range of every number above (gentoolkit.config.check_ranges); stages use RANGES["rl"].
RANGES = {
    "rl": {"batch_size": ">= 1", "sigma": ">= 0", "learning_rate": "> 0", "max_steps": ">= 1",
           "max_oracle_calls": ">= 0", "patience": ">= 0", "top_k": ">= 1", "score_threshold": "[0, 1]",
           "min_steps": ">= 0", "temperature": "> 0", "replay_memory": ">= 0", "replay_sample": ">= 0", "augmentation_rounds": ">= 0",
           "checkpoint_every": ">= 1"},
    "diversity_filter": {"bucket_size": ">= 1", "minscore": "[0, 1]"},
    "scoring": {"parallel": ">= 1"},
    "sample": {"num_molecules": ">= 1", "temperature": "> 0"},
    "transfer_learning": {"epochs": ">= 1", "batch_size": ">= 1", "learning_rate": "> 0",
                          "valid_fraction": "[0, 0.5]", "num_samples": ">= 1"},
    "output": {"top_n": ">= 1", "grid": ">= 0"},
}
