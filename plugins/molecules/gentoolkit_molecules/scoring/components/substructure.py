"""Required and forbidden substructures, given as SMARTS: 1.0 when the molecule passes, else 0.0.

``required_substructures`` passes when any (``require = "any"``) or all of its patterns match;
``forbidden_substructures`` passes when none does. Use them as multiplicative filters (geometric
aggregation), as REINVENT's MatchingSubstructure and CustomAlerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from rdkit import Chem

from gentoolkit_molecules.scoring.component import ScoringConfigError, parse_params


@cache
def pattern(smarts: str) -> Chem.Mol:
    """The compiled SMARTS (cached per process, so scorers pickle as plain strings)."""
    return Chem.MolFromSmarts(smarts)


def _check(smarts: list[str], what: str) -> list[str]:
    if isinstance(smarts, str):
        smarts = [smarts]
    if not smarts:
        raise ScoringConfigError(f"{what} needs at least one SMARTS pattern in 'smarts'.")
    for s in smarts:
        if not isinstance(s, str) or not s or pattern(s) is None:
            raise ScoringConfigError(f"{s!r} is not a valid SMARTS pattern.")
    return list(smarts)


@dataclass(frozen=True)
class RequiredParameters:
    smarts: list[str]
    require: str = "any"   # any | all


@dataclass(frozen=True)
class ForbiddenParameters:
    smarts: list[str]


class RequiredSubstructures:
    def __init__(self, params: RequiredParameters):
        self.params = params

    def __call__(self, mols: list[Chem.Mol]) -> np.ndarray:
        test = any if self.params.require == "any" else all
        return np.array([float(test(mol.HasSubstructMatch(pattern(s)) for s in self.params.smarts))
                         for mol in mols])


class ForbiddenSubstructures:
    def __init__(self, params: ForbiddenParameters):
        self.params = params

    def __call__(self, mols: list[Chem.Mol]) -> np.ndarray:
        return np.array([float(not any(mol.HasSubstructMatch(pattern(s)) for s in self.params.smarts))
                         for mol in mols])


def create_required(**params) -> RequiredSubstructures:
    p = parse_params(RequiredParameters, params, "required_substructures")
    if p.require not in ("any", "all"):
        raise ScoringConfigError(f"require must be 'any' or 'all', not {p.require!r}.")
    return RequiredSubstructures(RequiredParameters(_check(p.smarts, "required_substructures"), p.require))


def create_forbidden(**params) -> ForbiddenSubstructures:
    p = parse_params(ForbiddenParameters, params, "forbidden_substructures")
    return ForbiddenSubstructures(ForbiddenParameters(_check(p.smarts, "forbidden_substructures")))
