"""``gentoolkit run anomaly``: the one-class protocol (Ruff et al. 2018) on a labelled image dataset.

The dataset (any registered one with labels; digits by default) is split 50/50, stratified, seed
0, or by its own train and test splits (``split = "dataset"``: MNIST idx files, as in Ruff et al.).
Each class in turn is normal: every detector is fitted on the normal training items only and
scores every test item; the other classes are the anomalies. With ``data`` (an ODDS ``.mat`` file
or a ``.csv`` table with a label column, 1 = anomaly) the labels say which items are anomalies:
the detectors are fitted on the normal items of the training half. With ``data`` a SMILES (.smi) or
text (.txt) file of normal items, the test items are a ``test_size`` share of them plus every item of
``anomalies`` (a file of anomalous items), or the labelled lines of ``test_data`` (then all of ``data``
is fitted on); the sequence detectors (the shipped prior's NLL, NLL per token and likelihood ratio)
and the fingerprint OC-SVM baseline replace the default image detectors for SMILES, and for texts
TF-IDF beside the perplexity of ``text_model`` (a saved causal LM) when given. Writes metrics.json (per class and
mean AUROC, AUPRC, F1, recall at a fixed FPR, fit and score seconds), score histograms and the
most/least anomalous test images of ``show_class`` (for strings a table with each item's most
surprising tokens), and optionally the fitted detectors.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

# Each detector: a registered detector name, a column label and its params (the detector's own
# schema checks them). Generative detectors get the run's toolkit, device and seed.
SPLITS = ("stratified", "dataset")
RANGES = {"test_size": "(0, 1)", "split_seed": ">= 0", "fpr": "(0, 1)", "show_class": ">= 0"}
DEFAULTS: dict[str, Any] = {
    "dataset": "digits",  # a registered image dataset with labels, loaded with split="all"
    "dataset_params": {},  # more keywords for the dataset's load, e.g. {path = "~/mnist"}
    "split": "stratified",  # stratified: a test_size share of split="all"; dataset: its own train and test
    "data": "",  # instead of dataset: an ODDS .mat file or a .csv table of items with anomaly labels
    "label_column": "label",  # the .csv column that holds the labels (1 = anomaly, 0 = normal)
    "anomalies": "",  # with a .smi/.txt data file: a file of anomalous items, all of them scored
    "test_data": "",  # with a .smi/.txt data file: labelled test items ("item 0|1" a line; a tab before it in .txt)
    "text_model": "",  # with a .txt data file: a saved causal LM (runs/text/<run>/model) for a perplexity column
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


# For a SMILES data file whose run keeps the default (image) detectors: the shipped prior, fine-tuned, and
# the classical baseline: a one-class SVM on Morgan fingerprints with a Tanimoto kernel.
SMILES_DETECTORS = [
    {"name": "anomaly-sequence", "label": "prior NLL", "params": {"score": "nll", "epochs": 5}},
    {"name": "anomaly-sequence", "label": "prior NLL/token", "params": {"score": "token-nll", "epochs": 5}},
    {"name": "anomaly-sequence", "label": "likelihood ratio", "params": {"score": "ratio", "epochs": 5}},
    {"name": "anomaly-fingerprint", "label": "fingerprint OC-SVM", "params": {}},  # the classical baseline
]


def text_detectors(text_model: str) -> list[dict[str, Any]]:
    """For a text data file whose run keeps the default detectors: the perplexity of the saved causal LM
    ``text_model`` (as it is, not fine-tuned) if given, beside the TF-IDF baseline."""
    tfidf = {"name": "anomaly-tfidf", "label": "TF-IDF", "params": {}}
    if not text_model:
        return [tfidf]
    lm = {"name": "anomaly-sequence", "label": "LM perplexity",
          "params": {"model": "hf-local", "params": {"path": text_model}, "score": "token-nll", "epochs": 0}}
    return [lm, tfidf]


def one_class_split(toolkit: Any, dataset: str, test_size: float, seed: int, split: str = "stratified",
                    **params: Any) -> tuple:
    """(train images, train labels, test images, test labels, class names) as numpy arrays."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from gentoolkit import ConfigError

    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}; got {split!r}.")
    if split == "dataset":
        train, test = (toolkit.load_dataset(dataset, split=name, **params) for name in ("train", "test"))
        x_train, x_test = (np.asarray(part.images, dtype=np.float64) for part in (train, test))
        y_train, y_test = (np.asarray(part.labels) for part in (train, test))
        data, labels = train, y_train
    else:
        data = toolkit.load_dataset(dataset, split="all", **params)
        images = np.asarray(data.images, dtype=np.float64)
        labels = np.asarray(data.labels)
        x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=test_size, stratify=labels,
                                                            random_state=seed)
    classes = getattr(data, "classes", None) or [str(c) for c in np.unique(labels)]
    return x_train, y_train, x_test, y_test, list(classes)


def cases(toolkit: Any, config: dict[str, Any]) -> tuple:
    """(test items, [(name, normal training items, anomaly mask of the test items)], shown case,
    number of training items): one case per normal class of a dataset, or one for a labelled
    table (``data``)."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from gentoolkit import ConfigError
    from gentoolkit_anomaly.data import read_labelled, string_kind

    if config["data"] and string_kind(config["data"]):
        return string_cases(config)
    if config["data"]:
        X, y = read_labelled(Path(config["data"]), config["label_column"])
        x_train, x_test, y_train, y_test = train_test_split(X, y, test_size=config["test_size"], stratify=y,
                                                            random_state=config["split_seed"])
        return x_test, [("normal", x_train[y_train == 0], y_test == 1)], "normal", len(x_train)
    x_train, y_train, x_test, y_test, names = one_class_split(toolkit, config["dataset"], config["test_size"],
                                                              config["split_seed"], config["split"],
                                                              **config["dataset_params"])
    classes = config["classes"] or list(range(len(names)))
    if any(c not in range(len(names)) for c in classes) or config["show_class"] not in range(len(names)):
        raise ConfigError(f"classes and show_class are among 0..{len(names) - 1}; got classes={config['classes']}, "
                          f"show_class={config['show_class']}.")
    return (x_test, [(names[c], x_train[y_train == c], y_test != c) for c in classes],
            names[config["show_class"]], len(x_train))


def string_cases(config: dict[str, Any]) -> tuple:
    """As :func:`cases`, for a .smi/.txt file of normal items and ``anomalies`` or ``test_data``."""
    import numpy as np

    from gentoolkit import ConfigError
    from gentoolkit_anomaly.data import read_strings

    if bool(config["anomalies"]) == bool(config["test_data"]):
        raise ConfigError(f"data = {config['data']!r} holds normal items only: give either anomalies (a file of "
                          "anomalous items) or test_data (a file of test items, each line ending in a label 0 or 1).")
    normal, _ = read_strings(config["data"])
    if config["test_data"]:
        x_test, labels = read_strings(config["test_data"], labelled=True)
        return x_test, [("normal", normal, labels == 1)], "normal", len(normal)
    anomalies, _ = read_strings(config["anomalies"])
    order = np.random.default_rng(config["split_seed"]).permutation(len(normal))
    n_test = int(round(len(normal) * config["test_size"]))
    if not 0 < n_test < len(normal):
        raise ConfigError(f"{config['data']} holds {len(normal)} items: too few to keep a test_size of "
                          f"{config['test_size']} of them for testing and fit on the rest.")
    fit, held_out = [normal[i] for i in order[n_test:]], [normal[i] for i in order[:n_test]]
    return (held_out + anomalies, [("normal", fit, np.arange(n_test + len(anomalies)) >= n_test)], "normal",
            len(fit))


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
    from gentoolkit_anomaly.data import string_kind
    from gentoolkit_anomaly.generative import shared_fits

    kit = runtime.toolkit
    if not config["detectors"]:
        raise ConfigError("Give at least one detector ([[detectors]] with a registered name).")
    x_test, normal_cases, show, n_train = cases(kit, config)
    text = isinstance(x_test, list) and string_kind(config["data"]) == "text"
    if config["text_model"] and not (text and config["detectors"] == DEFAULTS["detectors"]):
        raise ConfigError("text_model sets the default detectors of a text (.txt) data file; with other data, or with "
                          "[[detectors]], name the LM in an anomaly-sequence entry: params = {model = \"hf-local\", "
                          "params = {path = \"<the saved LM>\"}}.")
    if isinstance(x_test, list) and config["detectors"] == DEFAULTS["detectors"]:
        if text and not config["text_model"]:
            runtime.log("Texts: TF-IDF only. For a language model's perplexity beside it, give text_model = the "
                        "folder of a saved causal LM (e.g. runs/text/<run>/model).")
        config = {**config, "detectors": text_detectors(config["text_model"]) if text else SMILES_DETECTORS}
    labels = [spec.get("label") or spec["name"] for spec in config["detectors"]]
    results: dict[str, dict[str, dict[str, float]]] = {label: {} for label in labels}
    shown: dict[str, np.ndarray] = {}
    explained: Any = None  # the first shown detector that names each item's most surprising tokens
    artifacts = {}
    with runtime.progress(len(normal_cases) * len(labels), "one-class") as advance:
        for name, x_fit, anomalous in normal_cases:
            with shared_fits():  # detectors scoring one model in several ways train it once per case
                for label, spec in zip(labels, config["detectors"]):
                    detector = build_detector(kit, runtime, spec)
                    began = time.perf_counter()
                    detector.fit(x_fit)
                    fitted = time.perf_counter()
                    scores = detector.decision_function(x_test)
                    row = {**metrics.all_metrics(scores, anomalous.astype(int), config["fpr"]),
                           "fit_seconds": fitted - began, "score_seconds": time.perf_counter() - fitted}
                    results[label][name] = row
                    if name == show:
                        shown[label] = scores
                        if explained is None and hasattr(detector, "surprising_tokens"):
                            explained = (label, detector.surprising_tokens(x_test))
                        if config["save_detectors"] and runtime.is_main:
                            artifacts[f"detector_{label}"] = kit.save_model(detector, runtime.out_dir / "detectors"
                                                                            / _slug(label))
                    advance(1, normal=name, auroc=row["auroc"])
    means = {label: {k: float(np.mean([r[k] for r in rows.values()])) for k in next(iter(rows.values()))}
             for label, rows in results.items()}
    if runtime.is_main:
        source = Path(config["data"]).name if config["data"] else config["dataset"]
        runtime.console.print(auroc_table(results, means, source))
        path = runtime.out_dir / "metrics.json"
        path.write_text(json.dumps({"protocol": _protocol(config, n_train, len(x_test)), "mean": means,
                                    "per_class": results}, indent=1))
        artifacts["metrics"] = path
        if shown:
            anomalous = next(mask for name, _, mask in normal_cases if name == show)
            title = f"{Path(config['data']).name if config['data'] else config['dataset']}: normal = {show}"
            artifacts["histogram"] = plots.score_histograms(shown, anomalous, runtime.out_dir / "scores.png", title)
            first = next(iter(shown))
            if isinstance(x_test, list):
                label, tokens = explained or (first, None)
                artifacts["extremes"] = plots.extremes_table(shown[label], anomalous, runtime.out_dir / "extremes.csv",
                                                             items=x_test, tokens=tokens)
                runtime.console.print(extremes_table(x_test, shown[label], anomalous, tokens, f"{title}, {label}"))
            elif x_test.ndim == 4:
                artifacts["extremes"] = plots.extremes_grid(x_test, shown[first], anomalous,
                                                            runtime.out_dir / "extremes.png", f"{title}, {first}")
            else:
                artifacts["extremes"] = plots.extremes_table(shown[first], anomalous, runtime.out_dir / "extremes.csv")
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


def extremes_table(items: list[str], scores: Any, anomalous: Any, tokens: Any, title: str, n: int = 5) -> Any:
    """A rich table of the ``n`` most and least anomalous strings with their most surprising tokens."""
    import numpy as np
    from rich.markup import escape
    from rich.table import Table

    from gentoolkit_anomaly.plots import format_tokens

    table = Table(title=f"{title}: most and least anomalous"
                  + (" (surprising tokens: token@position nats)" if tokens else ""))
    for column in ("", "score", "label", "item", *(["surprising tokens"] if tokens else [])):
        table.add_column(column, overflow="fold")
    order = np.argsort(scores)
    for name, picks in (("most", order[::-1][:n]), ("least", order[:n])):
        for i in picks:
            row = [name, f"{scores[i]:.3g}", "anomaly" if anomalous[i] else "normal", escape(items[i][:70])]
            table.add_row(*row, *([escape(format_tokens(tokens[i]))] if tokens else []))  # [nH] is no markup
    return table


def _protocol(config: dict[str, Any], n_train: int, n_test: int) -> dict[str, Any]:
    return {"dataset": config["data"] or config["dataset"], "split": f"stratified, test_size={config['test_size']}, "
            f"seed={config['split_seed']}", "train_items": n_train, "test_items": n_test,
            "detectors": config["detectors"]}


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")
