"""QED, the quantitative estimate of drug-likeness (Bickerton et al. 2012), from RDKit: 0 to 1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem import QED as rdkit_qed

from gentoolkit_molecules.scoring.component import parse_params


@dataclass(frozen=True)
class Parameters:
    """QED takes no parameters."""


class QED:
    def __init__(self, params: Parameters):
        self.params = params

    def __call__(self, mols: list[Chem.Mol]) -> np.ndarray:
        return np.array([rdkit_qed.qed(mol) for mol in mols], dtype=float)


def create(**params) -> QED:
    return QED(parse_params(Parameters, params, "qed"))
