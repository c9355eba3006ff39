"""One augmentation experiment on a labelled array dataset: for each seed, a real budget → a
class-conditional generator from the registry → samples → filters → mixing → the downstream
classifier (logistic regression on flattened items) scored on the held-out real test split.

Every method shares the seed's budget and the classifier; the generator and the filter's
classifier see only the budget, never the test split.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from gentoolkit_augmentation import pipeline, unlabelled
from gentoolkit_augmentation.report import (CAS, CEILING, CLASSICAL, CLASSICAL_FILTERED, FILTERED, FONTS, GENERATED,
                                            REAL, Experiment)

Classical = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]  # (x, y, seed) -> extra items


@dataclass
class Split:
    """The labelled pool budgets are drawn from, and the real test split."""

    x: np.ndarray
    y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: list[str]


@dataclass
class SeedSamples:
    """What one seed's generator made, for the sample grids."""

    real_x: np.ndarray
    real_y: np.ndarray
    fake_x: np.ndarray
    fake_y: np.ndarray
    keep: np.ndarray
    pool: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # the pool generator's (x, y, keep), if any


@dataclass
class Outcome:
    experiment: Experiment
    ratio_curve: dict[str, dict[float, list[float]]] = field(default_factory=dict)  # method -> ratio -> scores
    samples: SeedSamples | None = None  # of the first seed
    kept_share: list[float] = field(default_factory=list)  # per seed: filtered / generated
    pool_kept_share: list[float] = field(default_factory=list)  # the same for the unlabelled pool's variations


def classifier(config: dict[str, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=config["classifier"]["C"], max_iter=config["classifier"]["max_iter"])


def score(config: dict[str, Any], x: np.ndarray, y: np.ndarray, split: Split) -> float:
    """Test accuracy of the downstream classifier trained on (x, y)."""
    model = classifier(config).fit(x.reshape(len(x), -1), y)
    return float(model.score(split.test_x.reshape(len(split.test_x), -1), split.test_y))


def fit_generator(runtime: Any, config: dict[str, Any], x: np.ndarray, y: np.ndarray, classes: list[str],
                  name: str, seed: int, data: Any = None, init: dict[str, Any] | None = None,
                  conditional: bool = True) -> Any:
    """The registry's generator ``config["generator"]["model"]`` made class-conditional and
    trained on the budget with the core loop; checkpoints go to ``generators/NAME`` in the run.
    ``data``: the same items as the dataset the model trains on (a table with its column types),
    instead of ``(x, y)`` as tensors. ``init``: weights to start from (a pretrained generator's).
    ``conditional=False``: created without classes and not checked (an unlabelled pool's model)."""
    import torch
    from torch.utils.data import TensorDataset

    from gentoolkit.training import fit

    spec = config["generator"]
    kit = runtime.toolkit
    schema = kit.models.entry(spec["model"]).value.param_schema()
    params = dict(spec["params"])
    for key, value in (("classes", classes), ("image_shape", list(x.shape[1:]))):
        if key in schema and (conditional or key != "classes"):
            params.setdefault(key, value)
    torch.manual_seed(seed)
    model = kit.create_model(spec["model"], **params)
    if conditional:
        pipeline.check_generator(model, spec["model"])
    if init is not None:
        model.load_state_dict(init)
    if conditional and len(model.item_spec.classes) != len(classes):
        raise pipeline.AugmentationError(
            f"Model {spec['model']!r} has {len(model.item_spec.classes)} classes but the data has {len(classes)}; "
            "leave generator.params.classes unset so the data's classes are used.")
    if data is None:
        data = TensorDataset(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long))
    fit(model, data, runtime, epochs=spec["epochs"], batch_size=spec["batch_size"], name=f"generators/{name}",
        checkpoint_every=max(spec["epochs"], 1))
    return model


def draw(model: Any, x: np.ndarray, y: np.ndarray, config: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` samples per real item, labelled with its class. With ``near_real`` and a model that
    encodes given a class, each is decoded from the item's code plus Gaussian noise (scale
    ``noise``); otherwise drawn from the model with the class as condition."""
    import torch

    spec = config["sample"]
    generator = torch.Generator().manual_seed(seed)
    labels = torch.as_tensor(np.tile(y, spec["k"]), dtype=torch.long)
    with torch.no_grad():
        if spec["near_real"] and _encodes_given_class(model):
            codes = model.encode(torch.as_tensor(x, dtype=torch.float32), condition=torch.as_tensor(y)).cpu()
            codes = codes.repeat(spec["k"], *([1] * (codes.dim() - 1)))
            codes = codes + spec["noise"] * torch.randn(codes.shape, generator=generator)
            fake = model.decode(codes, condition=labels)
        else:
            fake = model.sample(len(labels), condition=labels, generator=generator)
    return np.asarray(fake.detach().cpu().float().numpy() if hasattr(fake, "detach") else fake), labels.numpy()


def _encodes_given_class(model: Any) -> bool:
    from gentoolkit.protocols import Autoencoder

    return isinstance(model, Autoencoder) and "condition" in inspect.signature(model.encode).parameters \
        and "condition" in inspect.signature(model.decode).parameters


def filter_mask(config: dict[str, Any], real_model: Any, x: Any, y: np.ndarray, fake: Any, fake_y: np.ndarray,
                metric: str = "euclidean") -> np.ndarray:
    """Samples the real-data classifier gives their class with confidence ≥ ``confidence`` and
    (``knn`` > 0) inside the real items' per-class k-NN manifold under ``metric``. ``x`` and
    ``fake`` are the vectors ``real_model`` was trained on (flattened pixels, fingerprints, ...)."""
    spec = config["filter"]
    keep = np.ones(len(fake_y), dtype=bool)
    if spec["confidence"] > 0:
        keep &= pipeline.confident(real_model.predict_proba(pipeline.as_rows(fake)), fake_y, spec["confidence"])
    if spec["knn"] > 0:
        keep &= pipeline.in_manifold(x, fake, spec["knn"], y, fake_y, metric)
    return keep


def synthesise(toolkit: Any, config: dict[str, Any], x: np.ndarray, y: np.ndarray, classes: list[str], seed: int,
               device: str = "cpu", data: Any = None,
               features: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """What ``gentoolkit augment`` does to any labelled items: train ``config``'s generator on all
    of them (``data``: the same items as a dataset, see :func:`fit_generator`), draw, filter.
    ``features`` maps items to the classifier's and k-NN filter's vectors (default: flattened).
    Returns (generator, samples, their labels, the filter's keep mask)."""
    import tempfile
    from pathlib import Path

    from gentoolkit.runtime import Runtime, RuntimeOptions

    name = config["generator"]["model"]
    with tempfile.TemporaryDirectory(prefix="gentoolkit-augment-") as scratch:
        options = RuntimeOptions(device=device, seed=seed, out=Path(scratch), progress=False)
        with Runtime(options, task="augment", toolkit=toolkit) as runtime:
            generator = fit_generator(runtime, config, x, y, classes, name, seed, data)
            fake, fake_y = draw(generator, x, y, config, seed)
    features = features or pipeline.as_rows
    real = features(x)
    real_model = classifier(config).fit(real, y)
    return generator, fake, fake_y, filter_mask(config, real_model, real, y, features(fake), fake_y)


def pretrain(runtime: Any, config: dict[str, Any], split: Split, per_class: int) -> tuple[Any, Any]:
    """With ``fonts.per_class`` > 0: the font renders (x, y) and the generator's weights after
    ``fonts.epochs`` on them (the start of every seed's fine-tuning); else (None, None)."""
    spec = config["fonts"]
    if not spec["per_class"]:
        return None, None
    from gentoolkit_augmentation.fonts import render_digits

    if split.x.shape[1:] != (1, 8, 8) or len(split.classes) != 10:
        raise pipeline.AugmentationError(f"fonts.per_class={spec['per_class']}: font renders are 8x8 digits 0-9 "
                                         "(scikit-learn's digits); set fonts.per_class = 0 for other data.")
    fx, fy = render_digits(spec["per_class"], seed=config["split_seed"])
    pre = {**config, "generator": {**config["generator"], "epochs": spec["epochs"], "batch_size": spec["batch_size"]}}
    model = fit_generator(runtime, pre, fx, fy, split.classes, f"{config['generator']['model']}-fonts-{per_class}pc",
                          config["split_seed"])
    return (fx, fy), {k: v.detach().clone() for k, v in model.state_dict().items()}


def run_budget(runtime: Any, config: dict[str, Any], split: Split, per_class: int, classical: Classical,
               advance: Callable[..., None] = lambda *a, **k: None, pool: Any = None) -> Outcome:
    """Every method of the report at ``per_class`` real items per class, over ``config["seeds"]``;
    with ``pool`` (:func:`unlabelled.prepare`) also the unlabelled pool's methods."""
    seeds = list(config["seeds"])
    experiment = Experiment(f"{config['dataset']}, {per_class} per class", "accuracy", seeds)
    outcome = Outcome(experiment)
    scores: dict[str, list[float]] = {m: [] for m in (REAL, CLASSICAL, GENERATED, FILTERED, CLASSICAL_FILTERED, CAS)}
    fonts, pretrained = pretrain(runtime, config, split, per_class)
    if fonts is not None:
        scores[FONTS] = []
    ratios = sorted(set(float(r) for r in config["ratios"]) | {float(config["ratio"])})
    curve = {GENERATED: {r: [] for r in ratios}, FILTERED: {r: [] for r in ratios}}
    for seed in seeds:
        idx = pipeline.budget(split.y, per_class, seed, split.classes)
        x, y = split.x[idx], split.y[idx]
        real_model = classifier(config).fit(x.reshape(len(x), -1), y)
        scores[REAL].append(score(config, x, y, split))
        extra_x, extra_y = classical(x, y, seed)
        cx, cy = np.concatenate([x, extra_x]), np.concatenate([y, extra_y])
        scores[CLASSICAL].append(score(config, cx, cy, split))
        pool_samples = None
        if pool is not None:
            extra, pool_samples = unlabelled.scores(config, pool, split, idx, real_model, (cx, cy), seed)
            for method, value in extra.items():
                scores.setdefault(method, []).append(value)
            outcome.pool_kept_share.append(float(pool_samples[2].mean()))
        if fonts is not None:
            scores[FONTS].append(score(config, *pipeline.mix(x, y, *fonts, config["ratio"], seed)[:2], split))
        train_x, train_y = (cx, cy) if config["generator"]["train_on"] == "real+classical" else (x, y)
        generator = fit_generator(runtime, config, train_x, train_y, split.classes,
                                  f"{config['generator']['model']}-{per_class}pc-seed{seed}", seed, init=pretrained)
        fake, fake_y = draw(generator, x, y, config, seed)
        keep = filter_mask(config, real_model, x, y, fake, fake_y)
        outcome.kept_share.append(float(keep.mean()))
        if not keep.any():
            runtime.log(f"seed {seed}, {per_class} per class: the filter kept no sample; 'generated filtered' is "
                        "real only for this seed (lower filter.confidence or filter.knn).")
        for ratio in ratios:
            for method, mask in ((GENERATED, np.ones_like(keep)), (FILTERED, keep)):
                mx, my, _ = pipeline.mix(x, y, fake[mask], fake_y[mask], ratio, seed)
                curve[method][ratio].append(score(config, mx, my, split))
        for method in (GENERATED, FILTERED):
            scores[method].append(curve[method][float(config["ratio"])][-1])
        share = config["ratio"] * len(y) / len(cy)  # as many samples as in the filtered mix, beside the copies
        scores[CLASSICAL_FILTERED].append(score(config, *pipeline.mix(cx, cy, fake[keep], fake_y[keep], share,
                                                                      seed)[:2], split))
        scores[CAS].append(score(config, fake, fake_y, split))
        if outcome.samples is None:
            outcome.samples = SeedSamples(x, y, fake, fake_y, keep, pool_samples)
        advance(1, seed=seed, real=scores[REAL][-1], filtered=scores[FILTERED][-1])
    notes = {REAL: f"{per_class} real items per class", CLASSICAL: "real + classical copies",
             GENERATED: f"real + {config['ratio']}x as many samples of {config['generator']['model']}",
             FILTERED: f"as generated, samples kept by the filter (confidence >= {config['filter']['confidence']}, "
                       f"k-NN k={config['filter']['knn']})",
             CLASSICAL_FILTERED: "the classical copies and the filtered mix's samples together",
             FONTS: f"real + {config['ratio']}x as many digits rendered from fonts (of "
                    f"{config['fonts']['per_class']} per class), no generator",
             CAS: "samples only (classification accuracy score)", CEILING: f"all {len(split.y)} pool items",
             **(unlabelled.notes(config) if pool is not None else {})}
    for method, values in scores.items():
        experiment.add(method, values, notes[method])
    ceiling = score(config, split.x, split.y, split)  # deterministic: the same for every seed
    experiment.add(CEILING, [ceiling] * len(seeds), notes[CEILING])
    outcome.ratio_curve = curve
    return outcome
