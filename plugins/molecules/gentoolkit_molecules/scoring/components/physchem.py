"""Physico-chemical descriptors from RDKit, one component each (REINVENT's RDKit family).

``DESCRIPTORS`` names them without importing RDKit, so the plugin can register them cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Callable

import numpy as np

from gentoolkit_molecules.scoring.component import ScoringConfigError, parse_params

DESCRIPTORS = {
    "logp": "Crippen logP (RDKit MolLogP)",
    "molecular_weight": "average molecular weight in Da (RDKit MolWt)",
    "tpsa": "topological polar surface area in Å² (RDKit TPSA)",
    "hbd": "hydrogen-bond donors (RDKit NumHDonors)",
    "hba": "hydrogen-bond acceptors (RDKit NumHAcceptors)",
    "rotatable_bonds": "rotatable bonds (RDKit NumRotatableBonds)",
    "rings": "rings, SSSR (RDKit CalcNumRings)",
    "aromatic_rings": "aromatic rings (RDKit CalcNumAromaticRings)",
    "heavy_atoms": "heavy (non-hydrogen) atoms",
}


@cache
def functions() -> dict[str, Callable]:
    """Descriptor name -> RDKit function of one molecule."""
    from rdkit.Chem import Descriptors, rdMolDescriptors

    return {
        "logp": Descriptors.MolLogP,
        "molecular_weight": Descriptors.MolWt,
        "tpsa": Descriptors.TPSA,
        "hbd": Descriptors.NumHDonors,
        "hba": Descriptors.NumHAcceptors,
        "rotatable_bonds": Descriptors.NumRotatableBonds,
        "rings": rdMolDescriptors.CalcNumRings,
        "aromatic_rings": rdMolDescriptors.CalcNumAromaticRings,
        "heavy_atoms": lambda mol: mol.GetNumHeavyAtoms(),
    }


@dataclass(frozen=True)
class Parameters:
    """Descriptors take no parameters."""


class Descriptor:
    def __init__(self, name: str, params: Parameters):
        if name not in DESCRIPTORS:
            raise ScoringConfigError(f"unknown descriptor {name!r}; known: {', '.join(DESCRIPTORS)}.")
        self.name, self.params = name, params

    def __call__(self, mols) -> np.ndarray:
        function = functions()[self.name]
        return np.array([function(mol) for mol in mols], dtype=float)


def create(name: str, **params) -> Descriptor:
    return Descriptor(name, parse_params(Parameters, params, name))
