"""Synthetic accessibility (Ertl & Schuffenhauer 2009), RDKit Contrib's ``sascorer``: 1 (easy) to 10.

Lower is better: pair it with a ``reverse_sigmoid`` transform.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np
from rdkit import Chem, RDConfig

from gentoolkit_molecules.scoring.component import ScoringConfigError, parse_params


@cache
def sascorer() -> ModuleType:
    """RDKit Contrib's sascorer module, loaded from its file (it is not an importable package)."""
    path = Path(RDConfig.RDContribDir) / "SA_Score" / "sascorer.py"
    if not path.is_file():
        raise ScoringConfigError(f"sa_score needs RDKit Contrib's sascorer, not found at {path}; "
                                 "install an RDKit build that ships Contrib (the PyPI 'rdkit' wheel does).")
    spec = importlib.util.spec_from_file_location("sascorer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.readFragmentScores()
    return module


@dataclass(frozen=True)
class Parameters:
    """SA score takes no parameters."""


class SAScore:
    def __init__(self, params: Parameters):
        self.params = params

    def __call__(self, mols: list[Chem.Mol]) -> np.ndarray:
        score = sascorer().calculateScore
        return np.array([score(mol) for mol in mols], dtype=float)


def create(**params) -> SAScore:
    sascorer()  # fail at build time, not mid-run
    return SAScore(parse_params(Parameters, params, "sa_score"))
