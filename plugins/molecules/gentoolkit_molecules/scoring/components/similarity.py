"""Tanimoto similarity to reference molecules on Morgan fingerprints (ECFP/FCFP).

With ``counts = true`` (the default) fingerprints are unfolded count vectors, exactly what
GuacaMol and TDC use (``GetMorganFingerprint(mol, 2)`` for ECFP4); with ``counts = false`` they
are ``bits``-long bit vectors. Over several references, ``aggregate`` takes the max or the mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from gentoolkit_molecules.scoring.component import ScoringConfigError, parse_params

FINGERPRINTS = {"ECFP4": (2, False), "ECFP6": (3, False), "FCFP4": (2, True), "FCFP6": (3, True)}


@cache
def _generator(radius: int, features: bool, bits: int):
    invariants = rdFingerprintGenerator.GetMorganFeatureAtomInvGen() if features else None
    # Keep the invariants generator alive alongside the generator that uses it.
    return rdFingerprintGenerator.GetMorganGenerator(
        radius=radius, fpSize=bits, atomInvariantsGenerator=invariants), invariants


def fingerprint(mol: Chem.Mol, kind: str = "ECFP4", counts: bool = True, bits: int = 2048):
    """A Morgan fingerprint of ``kind`` (ECFP4/6, FCFP4/6): sparse counts, or a bit vector."""
    radius, features = FINGERPRINTS[kind]
    generator, _ = _generator(radius, features, bits)
    return generator.GetSparseCountFingerprint(mol) if counts else generator.GetFingerprint(mol)


@dataclass(frozen=True)
class Parameters:
    smiles: list[str]            # reference molecules
    fingerprint: str = "ECFP4"   # ECFP4 | ECFP6 | FCFP4 | FCFP6
    counts: bool = True          # unfolded count fingerprints (GuacaMol); false: bit vectors
    bits: int = 2048             # length of bit vectors (counts = false)
    aggregate: str = "max"       # over references: max | mean


class TanimotoSimilarity:
    def __init__(self, params: Parameters):
        self.params = params
        p = params
        self.references = [fingerprint(mol, p.fingerprint, p.counts, p.bits) for mol in _references(p.smiles)]

    def __call__(self, mols: list[Chem.Mol]) -> np.ndarray:
        p = self.params
        reduce = np.max if p.aggregate == "max" else np.mean
        return np.array([reduce(DataStructs.BulkTanimotoSimilarity(
            fingerprint(mol, p.fingerprint, p.counts, p.bits), self.references)) for mol in mols], dtype=float)


def _references(smiles: list[str]) -> list[Chem.Mol]:
    mols = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s) if isinstance(s, str) and s else None
        if mol is None:
            raise ScoringConfigError(f"reference SMILES {s!r} is not a valid molecule.")
        mols.append(mol)
    return mols


def create(**params) -> TanimotoSimilarity:
    if isinstance(params.get("smiles"), str):
        params = {**params, "smiles": [params["smiles"]]}
    p = parse_params(Parameters, params, "tanimoto_similarity")
    if not p.smiles:
        raise ScoringConfigError("tanimoto_similarity needs at least one reference in 'smiles'.")
    if p.fingerprint not in FINGERPRINTS:
        raise ScoringConfigError(f"unknown fingerprint {p.fingerprint!r}; known: {', '.join(FINGERPRINTS)}.")
    if p.aggregate not in ("max", "mean"):
        raise ScoringConfigError(f"aggregate must be 'max' or 'mean', not {p.aggregate!r}.")
    if not isinstance(p.bits, int) or p.bits < 1:
        raise ScoringConfigError(f"bits must be a positive integer, not {p.bits!r}.")
    return TanimotoSimilarity(p)
