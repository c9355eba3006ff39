"""gentoolkit's tabular plugin: class-conditional TVAE and CTGAN, labelled tables, fidelity and
train-synthetic-test-real evaluators, and the imbalance experiment against SMOTE.

Only the hook implementations live here; every registered callable imports numpy, pandas,
scikit-learn and torch when it is called, so loading the plugin costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from gentoolkit import Dataset, Evaluator, Model, Task, hookimpl

DOMAIN = "tabular"
# registered name: (module, class, description)
MODELS = {
    "tabular-tvae": ("tvae", "TVAE", "TVAE (Xu et al. 2019), class-conditional, mode-specific normalisation"),
    "tabular-ctgan": ("ctgan", "CTGAN", "CTGAN (Xu et al. 2019): conditional WGAN-GP, PacGAN, training-by-sampling"),
}
DATASETS = {
    "breast-cancer": "scikit-learn's Wisconsin breast cancer table (569 rows, 30 numeric columns, 2 classes)",
    "wine": "scikit-learn's wine table (178 rows, 13 numeric columns, 3 classes)",
    "csv": "your CSV (path=..., label=...); text columns categorical unless numeric=[...] says otherwise",
}
EVALUATORS = {
    "fidelity": "SDMetrics-style quality: column shapes (KS / TV complement) and column-pair trends",
    "efficacy": "train-synthetic-test-real: a scikit-learn classifier trained on the samples, tested on real rows",
}


def _create(name: str) -> Callable[..., Any]:
    def create(**params: Any) -> Any:
        module, cls, _ = MODELS[name]
        return getattr(importlib.import_module(f"gentoolkit_tabular.{module}"), cls)(**params)

    return create


def _schema(name: str) -> Callable[[], dict[str, Any]]:
    def schema() -> dict[str, Any]:
        return importlib.import_module(f"gentoolkit_tabular.{MODELS[name][0]}").param_schema()

    return schema


def _load(name: str) -> Callable[..., Any]:
    def load(split: str = "train" if name != "csv" else "all", **params: Any) -> Any:
        from gentoolkit_tabular import data

        if name == "csv":
            return data.load_csv(split_name=split, **params)
        return data.load_sklearn(name, split, **params)

    return load


def _evaluate(metric: str) -> Callable[..., Any]:
    def evaluate(samples: Any, **params: Any) -> Any:
        from gentoolkit_tabular import metrics

        return metrics.EVALUATORS[metric](samples, **params)

    return evaluate


def _run(runtime: Any, config: dict[str, Any]) -> Any:
    from gentoolkit_tabular.task import run

    return run(runtime, config)


@hookimpl
def register_models(register: Callable) -> None:
    for name, (_, _, description) in MODELS.items():
        register(Model(name, _create(name), description, DOMAIN, params=_schema(name),
                       capabilities=("sample", "train"), items="tabular"))


@hookimpl
def register_datasets(register: Callable) -> None:
    for name, description in DATASETS.items():
        register(Dataset(name, _load(name), description, DOMAIN, items="tabular"))


@hookimpl
def register_evaluators(register: Callable) -> None:
    for metric, description in EVALUATORS.items():
        register(Evaluator(f"tabular-{metric}", _evaluate(metric), description, DOMAIN))


@hookimpl
def register_tasks(register: Callable) -> None:
    from gentoolkit_tabular.task import DEFAULTS, RANGES

    register(Task("tabular", _run, DEFAULTS, "TVAE and CTGAN on breast-cancer: fidelity, train-synthetic-test-real "
                  "efficacy, and oversampling a rare class against SMOTE over 5 seeds.", DOMAIN, RANGES,
                  headline="ctgan_tstr_roc_auc"))
