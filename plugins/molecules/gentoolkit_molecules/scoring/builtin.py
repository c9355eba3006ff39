"""The built-in scoring components, registered exactly as a third-party plugin registers its own.

Each ``create`` imports its module (and RDKit) only when a scoring function is built.
"""

from __future__ import annotations

import importlib
from functools import partial
from typing import Any, Callable

from gentoolkit_molecules.scoring.component import ScoringComponent
from gentoolkit_molecules.scoring.components.physchem import DESCRIPTORS

_PACKAGE = "gentoolkit_molecules.scoring.components"


def _create(module: str, attribute: str, /, *args: Any, **params: Any) -> Any:
    return getattr(importlib.import_module(f"{_PACKAGE}.{module}"), attribute)(*args, **params)


def _lazy(module: str, attribute: str = "create", *args: Any) -> Callable[..., Any]:
    return partial(_create, module, attribute, *args)


def register_builtin_components(register: Callable[[ScoringComponent], None]) -> None:
    """Register every built-in component with ``register``."""
    register(ScoringComponent("qed", _lazy("qed"), "QED drug-likeness, 0 to 1"))
    register(ScoringComponent("sa_score", _lazy("sa_score"), "synthetic accessibility, 1 (easy) to 10 (hard)"))
    for name, description in DESCRIPTORS.items():
        register(ScoringComponent(name, _lazy("physchem", "create", name), description))
    register(ScoringComponent("tanimoto_similarity", _lazy("similarity"),
                              "Tanimoto similarity to reference SMILES (ECFP/FCFP, counts or bits)"))
    register(ScoringComponent("required_substructures", _lazy("substructure", "create_required"),
                              "1 if any (or all) of the SMARTS match, else 0"))
    register(ScoringComponent("forbidden_substructures", _lazy("substructure", "create_forbidden"),
                              "1 if none of the SMARTS match, else 0"))
    register(ScoringComponent("structural_alerts", _lazy("alerts"),
                              "1 if no RDKit FilterCatalog alert (PAINS, Brenk, ...) matches, else 0"))
    register(ScoringComponent("isomer_score", _lazy("isomer"),
                              "closeness to a molecular formula (GuacaMol isomer score)"))
    register(ScoringComponent("vina_docking", _lazy("docking"),
                              "AutoDock Vina score in kcal/mol (ETKDG + meeko; needs the [docking] extra)",
                              expensive=True))
    register(ScoringComponent("user_function", _lazy("user_function"),
                              "your Python function 'module:name' or 'file.py:name'", expensive=True))
