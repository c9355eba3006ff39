"""``gentoolkit run tabular``: train each tabular generator on a labelled table, then measure it.

Writes, per generator: its checkpoint (``NAME.json`` + ``.safetensors``, loadable with
``Toolkit.load_model``), ``NAME_samples.csv``; and ``fidelity`` (column shapes, pair trends),
``efficacy`` (train-synthetic-test-real beside train-real-test-real), the imbalance table (a rare
class oversampled by nothing, SMOTE or each generator; mean ± SD over seeds), ``marginals.png``
and ``metrics.json``.
"""

from __future__ import annotations

import json
import time
from typing import Any

DEFAULTS: dict[str, Any] = {
    "dataset": "breast-cancer",  # a registered tabular dataset, loaded with split="train" and "test"
    "dataset_params": {},  # e.g. {path = "my.csv", label = "y"} for dataset = "csv"
    "test_size": 0.3,
    "split_seed": 0,
    "classifier": "logistic",  # logistic | forest | boosting (scikit-learn), for efficacy and imbalance
    "epochs": 300,
    "batch_size": 100,  # 4 steps per epoch on breast-cancer's 398 training rows
    "models": [
        {"name": "tabular-tvae", "label": "TVAE", "params": {}},
        {"name": "tabular-ctgan", "label": "CTGAN", "params": {"generator_dim": [128, 128],
                                                                "discriminator_dim": [128, 128]}},
    ],
    "imbalance": {"minority": "", "keep": 0.1, "seeds": 5},  # minority "": the smallest class
    "plot_columns": 4,
}
RANGES = {"test_size": "(0, 1)", "split_seed": ">= 0", "epochs": ">= 1", "batch_size": ">= 1",
          "imbalance": {"keep": "(0, 1]", "seeds": ">= 0"}, "plot_columns": ">= 1"}


def run(runtime: Any, config: dict[str, Any]) -> Any:
    import numpy as np

    from gentoolkit import ConfigError, RunResult
    from gentoolkit_tabular import imbalance, metrics, plots

    kit = runtime.toolkit
    params = {**config["dataset_params"], "test_size": config["test_size"], "seed": config["split_seed"]}
    train = kit.load_dataset(config["dataset"], split="train", **params)
    test = kit.load_dataset(config["dataset"], split="test", **params)
    if not config["models"]:
        raise ConfigError("Give at least one model under models = [{name = ..., label = ...}].")
    imb = config["imbalance"]
    minority = imbalance.minority_index(train, imb["minority"])
    began, cpu = time.perf_counter(), time.process_time()
    shared: dict[str, Any] = {}  # the transformer fitted first, reused: it depends on the data, not the model
    samples, report, artifacts = {}, {}, {}
    for spec in config["models"]:
        label = spec.get("label") or spec["name"]
        model = _train(kit, runtime, spec, train, config, _slug(label), shared)
        artifacts[f"model_{_slug(label)}"] = runtime.out_dir / f"{_slug(label)}.json"
        samples[label] = model.sample_table(len(train), generator=runtime.generator())
        report[label] = {"fidelity": metrics.fidelity(samples[label], train),
                         "efficacy": metrics.efficacy(samples[label], test, train, config["classifier"])}
        if runtime.is_main:
            path = runtime.out_dir / f"{_slug(label)}_samples.csv"
            samples[label].frame().to_csv(path, index=False)
            artifacts[f"samples_{_slug(label)}"] = runtime.generated(path, "table", model=spec["name"])
    reference = {"fidelity": metrics.fidelity(test, train),
                 "efficacy": metrics.efficacy(train, test, None, config["classifier"])}
    by_seed: dict[int, dict[str, Any]] = {}
    generators = {spec.get("label") or spec["name"]: _trainer(kit, runtime, spec, config, by_seed)
                  for spec in config["models"]}
    scores = imbalance.experiment(train, test, minority, imb["keep"], list(range(imb["seeds"])), generators,
                                  config["classifier"]) if imb["seeds"] else {}
    imbalance_summary = imbalance.summary(scores)
    timing = {"wall_seconds": time.perf_counter() - began, "cpu_seconds": time.process_time() - cpu}
    if runtime.is_main:
        from gentoolkit_tabular.report import fidelity_table, imbalance_table

        runtime.console.print(fidelity_table(report, reference, config["dataset"]))
        if scores:
            runtime.console.print(imbalance_table(imbalance_summary, train.classes[minority], imb["keep"],
                                                  imb["seeds"]))
        artifacts["marginals"] = plots.marginals(train, samples, runtime.out_dir / "marginals.png",
                                                 config["plot_columns"])
        path = runtime.out_dir / "metrics.json"
        path.write_text(json.dumps({"dataset": config["dataset"], "train_rows": len(train), "test_rows": len(test),
                                    "models": report, "real_test_vs_train": reference,
                                    "imbalance": {"minority": train.classes[minority], "keep": imb["keep"],
                                                  "seeds": imb["seeds"], "scores": scores,
                                                  "summary": imbalance_summary},
                                    "timing": timing}, indent=1))
        artifacts["metrics"] = path
    flat = {f"{_slug(label)}_{key}": value for label, row in report.items()
            for key, value in (("quality", row["fidelity"]["quality"]),
                               ("tstr_roc_auc", row["efficacy"]["tstr_roc_auc"]))}
    flat["trtr_roc_auc"] = reference["efficacy"]["tstr_roc_auc"]
    flat.update({f"imbalance_{_slug(m)}_balanced_accuracy": s["balanced_accuracy_mean"]
                 for m, s in imbalance_summary.items()})
    return RunResult("tabular", runtime.out_dir, {k: float(np.round(v, 6)) for k, v in flat.items()}, artifacts,
                     outputs={"models": report, "imbalance": imbalance_summary, "samples": samples})


def _train(kit: Any, runtime: Any, spec: dict[str, Any], table: Any, config: dict[str, Any], name: str,
           shared: dict[str, Any]) -> Any:
    """The registered model of ``spec`` trained on ``table`` with the core loop (checkpoint ``name``)."""
    from gentoolkit.training import fit

    model = kit.create_model(spec["name"], **{**dict(spec.get("params") or {}), **shared})
    fit(model, table, runtime, epochs=config["epochs"], batch_size=config["batch_size"], name=name)
    shared.setdefault("transformer", model.transformer.to_json())
    return model


def _trainer(kit: Any, runtime: Any, spec: dict[str, Any], config: dict[str, Any],
             by_seed: dict[int, dict[str, Any]]) -> Any:
    """``train(rare_table, seed)`` for the imbalance experiment; the generators of one seed share
    the transformer (in ``by_seed``) fitted by the first of them."""
    import torch

    def train(table: Any, seed: int) -> Any:
        torch.manual_seed(seed)
        shared = {"transformer": by_seed[seed]} if seed in by_seed else {}
        label = _slug(spec.get("label") or spec["name"])
        model = _train(kit, runtime, spec, table, config, f"imbalance/{label}-seed{seed}", shared)
        by_seed.setdefault(seed, model.transformer.to_json())
        return model

    return train


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")
