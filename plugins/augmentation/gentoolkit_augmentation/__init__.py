"""gentoolkit's augmentation plugin: fit a class-conditional generator from the registry on scarce
labelled data, sample, filter, mix with the real items and measure the downstream classifier
against real-only and classical augmentation (mean ± SD over seeds; see ``report``).

Only the hook implementations live here. Each domain's task module (``images``, and ``molecules``,
``text``) keeps its defaults importable without torch, and imports heavy code inside ``run``.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from gentoolkit import Task, hookimpl

DOMAIN = "augmentation"
# task name: (module in this package exposing DEFAULTS, optional RANGES and run(runtime, config), description)
TASKS = {
    "augmentation": ("images", "Digits at 5 and 10 real images per class: real only, classical (kornia), "
                     "generated (a class-conditional model from the registry), filtered, generated only (CAS), "
                     "samples of a VAE trained on the unlabelled rest of the pool with a Gaussian per class "
                     "fitted by semi-supervised EM, its semi-supervised peers and the full-data ceiling, "
                     "mean ± SD over seeds."),
    "augmentation-molecules": ("molecules", "Molecules: actives vs inactives by a property threshold (or CSV "
                               "labels), augmented with SMILES from the prior fine-tuned per class; Morgan-"
                               "fingerprint logistic regression ROC-AUC vs real only, SMILES enumeration and the "
                               "full pool, mean ± SD over seeds."),
    "augmentation-text": ("text", "Text: a CSV of text,label or paragraphs of pydoc topics labelled by reference "
                          "chapter, augmented with a causal LM's continuations of each real text's opening, "
                          "filtered; TF-IDF + logistic regression balanced accuracy vs real only and EDA-style "
                          "swap/deletion, mean ± SD over seeds."),
}


def _run(module: str) -> Callable[..., Any]:
    def run(runtime: Any, config: dict[str, Any]) -> Any:
        return importlib.import_module(f"gentoolkit_augmentation.{module}").run(runtime, config)

    return run


@hookimpl
def register_tasks(register: Callable) -> None:
    for name, (module, description) in TASKS.items():
        spec = importlib.import_module(f"gentoolkit_augmentation.{module}")
        register(Task(name, _run(module), spec.DEFAULTS, description, DOMAIN, ranges=getattr(spec, "RANGES", {}),
                      headline=getattr(spec, "HEADLINE", "")))



@hookimpl
def register_commands(cli: Any) -> None:
    from gentoolkit_augmentation.commands import add_commands

    add_commands(cli)
