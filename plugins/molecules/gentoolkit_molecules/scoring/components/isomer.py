"""Closeness to a molecular formula, GuacaMol's isomer score (Brown et al. 2019).

For each element of the formula, a Gaussian (sigma 1) of its count in the molecule (hydrogens
included); and a Gaussian (sigma 2) of the total atom count; combined by their geometric (or
arithmetic) mean. An exact isomer scores 1.0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from rdkit import Chem

from gentoolkit_molecules.scoring.component import ScoringConfigError, parse_params

_ELEMENT = re.compile(r"([A-Z][a-z]?)(\d*)")


def parse_formula(formula: str) -> dict[str, int]:
    """``"C7H8N2O2"`` -> ``{"C": 7, "H": 8, "N": 2, "O": 2}``; raises on anything else."""
    if not isinstance(formula, str) or not formula or _ELEMENT.sub("", formula):
        raise ScoringConfigError(f"{formula!r} is not a molecular formula such as 'C7H8N2O2'.")
    counts: dict[str, int] = {}
    table = Chem.GetPeriodicTable()
    for element, count in _ELEMENT.findall(formula):
        if element in counts:
            raise ScoringConfigError(f"element {element!r} appears twice in {formula!r}.")
        try:
            table.GetAtomicNumber(element)
        except RuntimeError:
            raise ScoringConfigError(f"{element!r} in {formula!r} is not an element.") from None
        counts[element] = int(count) if count else 1
    return counts


@dataclass(frozen=True)
class Parameters:
    formula: str               # e.g. "C7H8N2O2"
    mean: str = "geometric"    # geometric | arithmetic


class IsomerScore:
    def __init__(self, params: Parameters):
        self.params = params
        self.counts = parse_formula(params.formula)
        self.total = sum(self.counts.values())

    def __call__(self, mols: list[Chem.Mol]) -> np.ndarray:
        return np.array([self.score(mol) for mol in mols], dtype=float)

    def score(self, mol: Chem.Mol) -> float:
        mol = Chem.AddHs(mol)
        symbols = [atom.GetSymbol() for atom in mol.GetAtoms()]
        scores = [_gaussian(symbols.count(element), n, 1.0) for element, n in self.counts.items()]
        scores.append(_gaussian(len(symbols), self.total, 2.0))
        if self.params.mean == "arithmetic":
            return float(np.mean(scores))
        with np.errstate(divide="ignore"):
            return float(np.exp(np.mean(np.log(scores))))


def _gaussian(x: float, mu: float, sigma: float) -> float:
    return float(np.exp(-0.5 * ((x - mu) / sigma) ** 2))


def create(**params) -> IsomerScore:
    p = parse_params(Parameters, params, "isomer_score")
    if p.mean not in ("geometric", "arithmetic"):
        raise ScoringConfigError(f"mean must be 'geometric' or 'arithmetic', not {p.mean!r}.")
    return IsomerScore(p)
