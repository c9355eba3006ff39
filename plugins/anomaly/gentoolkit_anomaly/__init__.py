"""gentoolkit's anomaly plugin: detectors with one scikit-learn/PyOD contract, built on any
registered generative model or on a classical baseline, their metrics and the one-class benchmark.

Only the hook implementations live here; every registered callable imports numpy, scikit-learn
and torch when it is called, so loading the plugin costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from gentoolkit import Evaluator, Model, Task, hookimpl

DOMAIN = "anomaly"
# registered name: (module, class, items, description)
DETECTORS = {
    "anomaly-generative": ("generative", "GenerativeDetector", "image",
                           "any registered model as a detector: -log_prob, reconstruction error or typicality"),
    "anomaly-likelihood-ratio": ("generative", "LikelihoodRatioDetector", "image",
                                 "log p(x) - log p_background(x) of any density model (Ren et al. 2019)"),
    "anomaly-f-anogan": ("fanogan", "FAnoGANDetector", "image",
                         "f-AnoGAN: residual + critic-feature residual via an encoder inverting a GAN (Schlegl 2019)"),
    "anomaly-anoddpm": ("anoddpm", "AnoDDPMDetector", "image",
                        "AnoDDPM: error of a diffusion model's partial noising and denoising (Wyatt et al. 2022)"),
    "anomaly-ensemble": ("ensemble", "EnsembleDetector", "image",
                         "mean score of a detector fitted from several seeds (default: VAE reconstruction error)"),
    "anomaly-deep-svdd": ("deep_svdd", "DeepSVDDDetector", "image",
                          "Deep SVDD: distance to a centre in a learned space, one-class objective (Ruff et al. 2018)"),
    "anomaly-sequence": ("sequence", "SequenceDetector", "smiles",
                         "unusual SMILES or texts: total or per-token NLL of a prior / LM, or its likelihood ratio "
                         "against a background model"),
    "anomaly-pca": ("classical", "PCADetector", "tabular", "PCA reconstruction error (scikit-learn)"),
    "anomaly-ocsvm": ("classical", "OCSVMDetector", "tabular", "one-class SVM, RBF kernel (scikit-learn)"),
    "anomaly-iforest": ("classical", "IForestDetector", "tabular", "Isolation Forest (scikit-learn)"),
    "anomaly-kde": ("classical", "KDEDetector", "tabular", "kernel density, cross-validated bandwidth (scikit-learn)"),
    "anomaly-hbos": ("classical", "HBOSDetector", "tabular", "histogram-based outlier score (PyOD)"),
    "anomaly-tfidf": ("tfidf", "TfidfDetector", "text",
                      "texts: PCA reconstruction error of character n-gram TF-IDF vectors (scikit-learn)"),
    "anomaly-fingerprint": ("fingerprint", "FingerprintDetector", "smiles",
                            "SMILES: one-class SVM on Morgan fingerprints, Tanimoto kernel (RDKit, scikit-learn)"),
}
EVALUATORS = {
    "auroc": "area under the ROC curve of anomaly scores against labels (1 = anomaly)",
    "auprc": "average precision (area under the precision-recall curve), anomalies as positives",
    "f1": "F1 of scores above a threshold (default: flag as many items as there are anomalies)",
    "recall-at-fpr": "share of anomalies caught at a fixed false-positive rate (fpr=0.05)",
}


def detector_class(name: str) -> type:
    module, cls, _, _ = DETECTORS[name]
    return getattr(importlib.import_module(f"gentoolkit_anomaly.{module}"), cls)


def _create(name: str) -> Callable[..., Any]:
    def create(**params: Any) -> Any:
        return detector_class(name)(**params)

    return create


def _schema(name: str) -> Callable[[], dict[str, Any]]:
    def schema() -> dict[str, Any]:
        return detector_class(name)().get_params(deep=False)

    return schema


def _save(model: Any, path: Any, card: Any) -> Any:
    from gentoolkit_anomaly.persistence import save_detector

    return save_detector(model, path)


def _load(name: str) -> Callable[..., Any]:
    def load(path: Any, device: str = "cpu", toolkit: Any = None) -> Any:
        from gentoolkit.models import read_card
        from gentoolkit_anomaly.persistence import load_detector

        params = dict(read_card(path).params)
        detector = detector_class(name)(**params, **({"toolkit": toolkit} if "toolkit" in _schema(name)() else {}))
        return load_detector(detector, path, toolkit=toolkit, device=device)

    return load


def _evaluate(metric: str) -> Callable[..., Any]:
    def evaluate(scores: Any, **params: Any) -> Any:
        from gentoolkit_anomaly.metrics import EVALUATORS

        return EVALUATORS[metric](scores, **params)

    return evaluate


def _run(runtime: Any, config: dict[str, Any]) -> Any:
    from gentoolkit_anomaly.task import run

    return run(runtime, config)


@hookimpl
def register_models(register: Callable) -> None:
    for name, (_, _, items, description) in DETECTORS.items():
        register(Model(name, _create(name), description, DOMAIN, params=_schema(name), items=items,
                       save=_save, load=_load(name)))


@hookimpl
def register_evaluators(register: Callable) -> None:
    for metric, description in EVALUATORS.items():
        register(Evaluator(f"anomaly-{metric}", _evaluate(metric), description, DOMAIN))


@hookimpl
def register_tasks(register: Callable) -> None:
    from gentoolkit_anomaly.task import DEFAULTS, RANGES

    register(Task("anomaly", _run, DEFAULTS, "One-class digits: each digit in turn is normal; per-class and mean "
                  "AUROC of a generative detector beside PCA, OC-SVM, Isolation Forest and KDE.", DOMAIN, RANGES))


@hookimpl
def register_commands(cli: Any) -> None:
    from gentoolkit_anomaly.commands import add_commands

    add_commands(cli)
