"""``gentoolkit run augmentation``: generative augmentation of scarce labelled images (digits).

The dataset (any registered image dataset with labels) is split 50/50, stratified, split_seed 0:
budgets of ``per_class`` real images per class are drawn from one half, the other half is the
test set. For each budget and seed: real only, classical (kornia), a class-conditional generator
from the registry (unfiltered, filtered, generated only) and the full-pool ceiling, all scored by
the same logistic regression. With ``unlabelled.use`` (the default) also DAGAN's setting
(``unlabelled.py``): a generator trained on the pool without labels, beside semi-supervised peers.
Writes metrics.json, the tables, sample grids per class, the accuracy-against-ratio plot and index.html.
"""

from __future__ import annotations

import json
import time
from functools import partial
from typing import Any

DEFAULTS: dict[str, Any] = {
    "dataset": "digits",  # a registered image dataset with labels, loaded with split="all"
    "test_size": 0.5,
    "split_seed": 0,
    "per_class": [5, 10],  # real images per class: one table each
    "seeds": [0, 1, 2, 3, 4],  # every method runs on these seeds' budgets
    "classifier": {"C": 1.0, "max_iter": 2000},  # logistic regression on pixels, for every method
    # any registered image model that samples, made class-conditional on the data's classes; params: its own
    "generator": {"model": "image-vae", "params": {}, "epochs": 300, "batch_size": 16,
                  "train_on": "real"},  # real | real+classical: the budget, or the budget and its classical copies
    # outside knowledge: digits rendered from matplotlib's fonts (fonts.py), `per_class` each, added directly
    # (a row of its own) and pretraining the generator for `epochs` before it is fine-tuned on the budget; 0: off
    "fonts": {"per_class": 0, "epochs": 30, "batch_size": 64},
    "sample": {"k": 10, "near_real": True, "noise": 0.5},  # k samples per real image
    "filter": {"confidence": 0.5, "knn": 3},  # 0 turns a filter off
    "ratio": 1.0,  # synthetic images per real image in the mix
    "ratios": [0.5, 1.0, 2.0, 4.0],  # the accuracy-against-ratio plot
    "classical": {"k": 5, "degrees": 10.0, "translate": 0.0625, "scale": 0.05, "elastic": 0.5},
    # DAGAN's setting (unlabelled.py): the pool with labels dropped trains an autoencoder `model`
    # once; `k` variations per labelled image (variation = neighbours: its code moved up to `step` of the way to
    # one of its `latent_neighbours` nearest pool codes; noise: code + `noise` x the codes' SD; mixture: a code drawn
    # from its class's Gaussian, fitted to labelled and pool codes by `iterations` semi-supervised EM steps with
    # `regularisation` x the codes' variance on each covariance's diagonal), filtered (`filter`: pool = inside the
    # k-NN manifold of every real image; budget = the budget generator's filter), mixed at `ratio` (settings
    # chosen with evaluate_on=validation); beside them the peers that use the same pool without a
    # generator: self-training (`threshold`, scikit-learn's default) and label spreading (`spreading_neighbours`)
    "unlabelled": {"use": True, "model": "image-vae", "params": {}, "epochs": 300, "batch_size": 64, "k": 10,
                   "variation": "mixture", "step": 1.0, "latent_neighbours": 5, "noise": 0.5, "iterations": 30,
                   "regularisation": 0.01, "filter": "pool", "ratio": 4.0, "threshold": 0.75, "spreading_neighbours": 7},
    # test | validation: re-split the pool 50/50 (split_seed) and score on its held-out half, to choose settings
    "evaluate_on": "test",
}
RANGES = {"test_size": "(0, 1)", "split_seed": ">= 0", "ratio": "> 0", "sample": {"k": ">= 1", "noise": ">= 0"},
          "filter": {"confidence": "[0, 1]", "knn": ">= 0"}, "generator": {"epochs": ">= 0", "batch_size": ">= 1"},
          "fonts": {"per_class": ">= 0", "epochs": ">= 0", "batch_size": ">= 1"},
          "classical": {"k": ">= 1", "degrees": "[0, 180]", "translate": "[0, 1]", "scale": "[0, 1)", "elastic": ">= 0"},
          "classifier": {"C": "> 0", "max_iter": ">= 1"},
          "unlabelled": {"epochs": ">= 0", "batch_size": ">= 1", "k": ">= 1", "step": ">= 0", "latent_neighbours": ">= 1",
                         "noise": ">= 0", "iterations": ">= 0", "regularisation": "> 0", "ratio": "> 0",
                         "threshold": "(0, 1)", "spreading_neighbours": ">= 1"}}
HEADLINE = "5pc/generated_filtered"
TRAIN_ON = ("real", "real+classical")
EVALUATE_ON = ("test", "validation")
VARIATIONS = ("neighbours", "noise", "mixture")
POOL_FILTERS = ("pool", "budget")


def load_split(toolkit: Any, config: dict[str, Any]) -> Any:
    """The labelled pool and test split of ``config["dataset"]`` as numpy arrays."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from gentoolkit_augmentation.experiment import Split
    from gentoolkit_augmentation.pipeline import AugmentationError, check_labels

    data = toolkit.load_dataset(config["dataset"], split="all")
    if getattr(data, "labels", None) is None:
        raise AugmentationError(f"Dataset {config['dataset']!r} has no labels; augmentation needs a class per image "
                           "(for image-folder: one subfolder per class).")
    images, labels = np.asarray(data.images, dtype=np.float32), np.asarray(data.labels)
    classes = list(getattr(data, "classes", None) or [str(c) for c in np.unique(labels)])
    check_labels(labels, classes, f"Dataset {config['dataset']!r}")
    x, test_x, y, test_y = train_test_split(images, labels, test_size=config["test_size"], stratify=labels,
                                            random_state=config["split_seed"])
    if config["evaluate_on"] == "validation":  # the test split is never seen; settings are chosen on this
        x, test_x, y, test_y = train_test_split(x, y, test_size=0.5, stratify=y, random_state=config["split_seed"])
    return Split(x, y, test_x, test_y, classes)


def run(runtime: Any, config: dict[str, Any]) -> Any:
    from gentoolkit_augmentation.pipeline import AugmentationError
    from gentoolkit_augmentation.report import MIN_SEEDS

    if config["generator"]["train_on"] not in TRAIN_ON:
        raise AugmentationError(f"generator.train_on={config['generator']['train_on']!r}: give one of "
                                f"{', '.join(TRAIN_ON)} (the budget, or the budget and its classical copies).")
    if config["unlabelled"]["variation"] not in VARIATIONS:
        raise AugmentationError(f"unlabelled.variation={config['unlabelled']['variation']!r}: give one of "
                                f"{', '.join(VARIATIONS)} (towards latent neighbours in the pool, Gaussian code noise, or "
                                "a class-conditional Gaussian mixture fitted with the pool).")
    if config["unlabelled"]["filter"] not in POOL_FILTERS:
        raise AugmentationError(f"unlabelled.filter={config['unlabelled']['filter']!r}: give one of "
                                f"{', '.join(POOL_FILTERS)} (the k-NN manifold of every real image, or the budget "
                                "generator's filter).")
    if config["evaluate_on"] not in EVALUATE_ON:
        raise AugmentationError(f"evaluate_on={config['evaluate_on']!r}: give one of {', '.join(EVALUATE_ON)} "
                                "(validation scores on half of the pool, to choose settings without the test split).")
    if len(config["seeds"]) < MIN_SEEDS or not config["per_class"]:
        raise AugmentationError(f"Give at least {MIN_SEEDS} seeds and one per_class budget; got seeds={config['seeds']}, "
                           f"per_class={config['per_class']}.")
    with _threads_like_torch():
        return _run(runtime, config)


def _run(runtime: Any, config: dict[str, Any]) -> Any:
    from gentoolkit import RunResult
    from gentoolkit_augmentation import classical, plots, unlabelled
    from gentoolkit_augmentation.experiment import run_budget

    began, cpu = time.perf_counter(), time.process_time()
    split = load_split(runtime.toolkit, config)
    augment = partial(_classical, classical.augment, config["classical"])
    pool = unlabelled.prepare(runtime, config, split.x) if config["unlabelled"]["use"] else None
    outcomes, metrics, artifacts = {}, {}, {}
    with runtime.progress(len(config["per_class"]) * len(config["seeds"]), "augmentation") as advance:
        for per_class in config["per_class"]:
            outcome = run_budget(runtime, config, split, per_class, augment, advance, pool)
            outcomes[per_class] = outcome
            runtime.console.print(outcome.experiment.table())
            metrics.update(outcome.experiment.flat_metrics(f"{per_class}pc"))
            metrics[f"{per_class}pc/kept_share"] = sum(outcome.kept_share) / len(outcome.kept_share)
            if outcome.pool_kept_share:
                metrics[f"{per_class}pc/pool_kept_share"] = sum(outcome.pool_kept_share) / len(outcome.pool_kept_share)
    metrics["wall_seconds"] = time.perf_counter() - began
    metrics["cpu_seconds"] = time.process_time() - cpu
    if runtime.is_main:
        out = runtime.out_dir
        for per_class, outcome in outcomes.items():
            for path in plots.sample_grids(outcome.samples, split.classes, out / "samples", f"{per_class}pc"):
                artifacts[path.stem] = runtime.generated(path, "image", per_class=per_class,
                                                         model=config["generator"]["model"])
        artifacts["ratio"] = plots.ratio_plot({pc: o.ratio_curve for pc, o in outcomes.items()},
                                              {pc: o.experiment for pc, o in outcomes.items()}, out / "ratio.png")
        experiments = [o.experiment.to_json() for o in outcomes.values()]
        (out / "metrics.json").write_text(json.dumps({**metrics, "experiments": experiments,
                                                      "ratio_curves": _curves_json(outcomes)}, indent=1) + "\n")
        artifacts["metrics"] = out / "metrics.json"
        artifacts["index"] = plots.index_html(out, [o.experiment for o in outcomes.values()], config)
    return RunResult("augmentation", runtime.out_dir, metrics, artifacts,
                     outputs={"experiments": {pc: o.experiment for pc, o in outcomes.items()}})


def _threads_like_torch() -> Any:
    """BLAS and OpenMP (scipy, scikit-learn) limited to torch's threads: spare threads spinning on a shared
    machine made each small logistic regression about 20x slower (measured with 2 cores and load 7)."""
    import sklearn.linear_model  # noqa: F401  (loads the libraries to limit)
    import torch
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=torch.get_num_threads())


def _classical(augment: Any, settings: dict[str, Any], x: Any, y: Any, seed: int) -> Any:
    return augment(x, y, seed, **settings)


def _curves_json(outcomes: dict[int, Any]) -> dict[str, Any]:
    return {f"{pc}pc": {method: {str(r): scores for r, scores in by_ratio.items()}
                        for method, by_ratio in o.ratio_curve.items()} for pc, o in outcomes.items()}
