"""``gentoolkit run anomaly``: the one-class protocol (Ruff et al. 2018) on a labelled image dataset.

The dataset (any registered one with labels; digits by default) is split 50/50, stratified, seed
0. Each class in turn is normal: every detector is fitted on the normal training items only and
scores every test item; the other classes are the anomalies. Writes metrics.json (per class and
mean AUROC, AUPRC, F1, recall at a fixed FPR, fit and score seconds), score histograms and the
most/least anomalous test images of ``show_class``, and optionally the fitted detectors.
"""

from __future__ import annotations

import json
import time
from typing import Any

# Each detector: a registered detector name, a column label and its params (the detector's own
# schema checks them). Generative detectors get the run's toolkit, device and seed.
DEFAULTS: dict[str, Any] = {
    "dataset": "digits",  # a registered image dataset with labels, loaded with split="all"
    "test_size": 0.5,
    "split_seed": 0,
    "classes": [],  # the normal classes to run, by index; empty: all
    "fpr": 0.05,  # for recall at a fixed false-positive rate
    "show_class": 8,  # whose score histograms and image grid are drawn (8 is the hardest digit)
    "save_detectors": True,  # save the detectors fitted on show_class under detectors/<label>
    "detectors": [
        {"name": "anomaly-generative", "label": "VAE recon",
         "params": {"model": "image-vae", "params": {"latent_dim": 8, "width": 16}, "score": "reconstruction",
                    "epochs": 500, "batch_size": 32}},
        {"name": "anomaly-pca", "label": "PCA", "params": {"n_components": 0.9}},
        {"name": "anomaly-ocsvm", "label": "OC-SVM", "params": {"nu": 0.1}},
        {"name": "anomaly-iforest", "label": "IForest", "params": {"n_estimators": 100}},
        {"name": "anomaly-kde", "label": "KDE", "params": {}},
    ],
}


def one_class_split(toolkit: Any, dataset: str, test_size: float, seed: int) -> tuple:
    """(train images, train labels, test images, test labels, class names) as numpy arrays."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    data = toolkit.load_dataset(dataset, split="all")
    images = np.asarray(data.images, dtype=np.float64)
    labels = np.asarray(data.labels)
    x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=test_size, stratify=labels,
                                                        random_state=seed)
    classes = getattr(data, "classes", None) or [str(c) for c in np.unique(labels)]
    return x_train, y_train, x_test, y_test, list(classes)


def build_detector(toolkit: Any, runtime: Any, spec: dict[str, Any]) -> Any:
    """The registered detector ``spec["name"]`` with ``spec["params"]``, on the run's device and seed."""
    params = dict(spec.get("params") or {})
    schema = toolkit.models.entry(spec["name"]).value.param_schema()
    extra = {"toolkit": toolkit, "device": str(runtime.device), "seed": runtime.options.seed}
    params.update({k: v for k, v in extra.items() if k in schema and k not in params})
    return toolkit.create_model(spec["name"], **params)


def run(runtime: Any, config: dict[str, Any]) -> Any:
    import numpy as np

    from gentoolkit import ConfigError, RunResult
    from gentoolkit_anomaly import metrics, plots

    kit = runtime.toolkit
    x_train, y_train, x_test, y_test, class_names = one_class_split(kit, config["dataset"], config["test_size"],
                                                                    config["split_seed"])
    classes = config["classes"] or list(range(len(class_names)))
    if not config["detectors"] or any(c not in range(len(class_names)) for c in classes):
        raise ConfigError(f"Give at least one detector, and classes among 0..{len(class_names) - 1}; got "
                          f"classes={config['classes']}.")
    labels = [spec.get("label") or spec["name"] for spec in config["detectors"]]
    results: dict[str, dict[str, dict[str, float]]] = {label: {} for label in labels}
    shown: dict[str, np.ndarray] = {}
    artifacts = {}
    with runtime.progress(len(classes) * len(labels), "one-class") as advance:
        for normal in classes:
            anomalous = y_test != normal
            for label, spec in zip(labels, config["detectors"]):
                detector = build_detector(kit, runtime, spec)
                began = time.perf_counter()
                detector.fit(x_train[y_train == normal])
                fitted = time.perf_counter()
                scores = detector.decision_function(x_test)
                row = {**metrics.all_metrics(scores, anomalous.astype(int), config["fpr"]),
                       "fit_seconds": fitted - began, "score_seconds": time.perf_counter() - fitted}
                results[label][class_names[normal]] = row
                if normal == config["show_class"]:
                    shown[label] = scores
                    if config["save_detectors"] and runtime.is_main:
                        artifacts[f"detector_{label}"] = kit.save_model(detector, runtime.out_dir / "detectors"
                                                                        / _slug(label))
                advance(1, digit=normal, auroc=row["auroc"])
    means = {label: {k: float(np.mean([r[k] for r in rows.values()])) for k in next(iter(rows.values()))}
             for label, rows in results.items()}
    if runtime.is_main:
        runtime.console.print(auroc_table(results, means, config["dataset"]))
        path = runtime.out_dir / "metrics.json"
        path.write_text(json.dumps({"protocol": _protocol(config, len(x_train), len(x_test)), "mean": means,
                                    "per_class": results}, indent=1))
        artifacts["metrics"] = path
        if shown:
            anomalous = y_test != config["show_class"]
            title = f"{config['dataset']}: normal = {class_names[config['show_class']]}"
            artifacts["histogram"] = plots.score_histograms(shown, anomalous, runtime.out_dir / "scores.png", title)
            first = next(iter(shown))
            artifacts["extremes"] = plots.extremes_grid(x_test, shown[first], anomalous,
                                                        runtime.out_dir / "extremes.png", f"{title}, {first}")
    flat = {f"{_slug(label)}_{key}": value for label, row in means.items() for key, value in row.items()
            if key in ("auroc", "auprc")}
    return RunResult("anomaly", runtime.out_dir, flat, artifacts, outputs={"per_class": results, "mean": means})


def auroc_table(results: dict, means: dict, dataset: str) -> Any:
    """A rich table: one row per normal class, one column per detector, the mean last."""
    from rich.table import Table

    table = Table(title=f"one-class {dataset}: AUROC per normal class")
    table.add_column("normal")
    for label in results:
        table.add_column(label, justify="right")
    for name in next(iter(results.values())):
        table.add_row(name, *(f"{rows[name]['auroc']:.4f}" for rows in results.values()))
    table.add_row("[bold]mean", *(f"[bold]{means[label]['auroc']:.4f}" for label in results))
    return table


def _protocol(config: dict[str, Any], n_train: int, n_test: int) -> dict[str, Any]:
    return {"dataset": config["dataset"], "split": f"stratified, test_size={config['test_size']}, "
            f"seed={config['split_seed']}", "train_items": n_train, "test_items": n_test,
            "detectors": config["detectors"]}


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")
