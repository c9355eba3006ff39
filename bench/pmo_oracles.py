"""Five PMO oracles (Gao et al. 2022) as a third-party scoring component, the way a user brings one.

``PMOOracles()`` is a gentoolkit plugin: it implements the molecules plugin's
``register_scoring_components`` hook with one component, ``pmo_bench``, whose ``name`` param picks
the oracle. The formulas are TDC's ``Oracle(name)`` (GuacaMol's definitions), written here with
RDKit alone: unfolded count Morgan fingerprints, GuacaMol's Gaussian and clipped modifiers and a
geometric mean. Nothing here imports the molecules plugin.
"""

from __future__ import annotations

import math
import re

import numpy as np

from gentoolkit import hookimpl

CELECOXIB = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"
OSIMERTINIB = "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34"
CAMPHOR = "CC1(C)C2CCC1(C)C(=O)C2"
MENTHOL = "CC(C)C1CCC(C)CC1O"
ORACLES = ("qed", "celecoxib_rediscovery", "osimertinib_mpo", "isomers_c7h8n2o2", "median1")


def _gaussian(x: float, mu: float, sigma: float) -> float:
    return math.exp(-0.5 * ((x - mu) / sigma) ** 2)


def _fingerprint(mol, radius: int, features: bool = False):
    from rdkit.Chem import rdFingerprintGenerator as generators

    invariants = generators.GetMorganFeatureAtomInvGen() if features else None
    return generators.GetMorganGenerator(radius=radius, atomInvariantsGenerator=invariants).GetSparseCountFingerprint(mol)


def _similarity(mol, reference: str, radius: int, features: bool = False) -> float:
    from rdkit import Chem, DataStructs

    ref = Chem.MolFromSmiles(reference)
    return DataStructs.TanimotoSimilarity(_fingerprint(mol, radius, features), _fingerprint(ref, radius, features))


def _isomer(mol, formula: str) -> float:
    """GuacaMol's isomer score: a Gaussian on each element's count (sigma 1) and on the atom total (sigma 2)."""
    from rdkit import Chem

    wanted = {e: int(n or 1) for e, n in re.findall(r"([A-Z][a-z]?)(\d*)", formula)}
    atoms = [a.GetSymbol() for a in Chem.AddHs(mol).GetAtoms()]
    terms = [_gaussian(atoms.count(e), n, 1.0) for e, n in wanted.items()]
    terms.append(_gaussian(len(atoms), sum(wanted.values()), 2.0))
    return float(np.prod(terms) ** (1 / len(terms)))


def pmo_score(name: str, mol) -> float:
    """The PMO oracle ``name`` of one RDKit molecule."""
    from rdkit.Chem import QED, Descriptors

    if name == "qed":
        return QED.qed(mol)
    if name == "celecoxib_rediscovery":
        return _similarity(mol, CELECOXIB, 2)
    if name == "median1":
        return math.sqrt(_similarity(mol, CAMPHOR, 2) * _similarity(mol, MENTHOL, 2))
    if name == "isomers_c7h8n2o2":
        return _isomer(mol, "C7H8N2O2")
    if name == "osimertinib_mpo":
        terms = [_gaussian(min(Descriptors.TPSA(mol), 100.0), 100.0, 10.0),
                 _gaussian(max(Descriptors.MolLogP(mol), 1.0), 1.0, 1.0),
                 min(max(_similarity(mol, OSIMERTINIB, 2, features=True) / 0.8, 0.0), 1.0),
                 _gaussian(max(_similarity(mol, OSIMERTINIB, 3), 0.85), 0.85, 0.1)]
        return float(np.prod(terms) ** 0.25)
    raise KeyError(name)


class PMOOracle:
    """A picklable scorer: RDKit molecules -> the oracle's values."""

    def __init__(self, name: str = "qed"):
        if name not in ORACLES:
            raise ValueError(f"pmo_bench has no oracle {name!r}; it has {', '.join(ORACLES)}")
        self.name = name

    def __call__(self, mols) -> np.ndarray:
        return np.array([pmo_score(self.name, m) for m in mols], dtype=float)


class PMOOracles:
    """The plugin: contributes the ``pmo_bench`` scoring component."""

    @hookimpl
    def register_scoring_components(self, register):
        from gentoolkit_molecules import ScoringComponent

        register(ScoringComponent("pmo_bench", PMOOracle, f"PMO oracle by name: {', '.join(ORACLES)}"))
