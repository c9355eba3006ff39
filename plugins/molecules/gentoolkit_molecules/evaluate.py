"""Metrics of generated molecules: MOSES-style distribution metrics and PMO's optimisation AUC.

Every function takes SMILES as generated (invalid ones included) and returns one float.
Validity, uniqueness, novelty and IntDiv1 follow MOSES (``moses/metrics/metrics.py``); FCD uses
the ``fcd`` package and its shipped ChemNet; ``pmo_top_k_auc`` is PMO's ``top_auc``
(``mol_opt/main/optimizer.py``).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


def _mols(smiles: Iterable[str]) -> list:
    """RDKit molecules, None where a SMILES is empty or does not parse."""
    from rdkit import Chem, rdBase

    with rdBase.BlockLogs():
        return [Chem.MolFromSmiles(s) if isinstance(s, str) and s else None for s in smiles]


def canonical(smiles: Iterable[str]) -> list[str]:
    """Canonical RDKit SMILES of the valid molecules, in order (duplicates kept)."""
    from rdkit import Chem

    return [Chem.MolToSmiles(m) for m in _mols(smiles) if m is not None]


def validity(smiles: Sequence[str]) -> float:
    """Fraction of SMILES that RDKit parses."""
    mols = _mols(smiles)
    return sum(m is not None for m in mols) / len(mols) if mols else 0.0


def uniqueness(smiles: Sequence[str]) -> float:
    """Distinct canonical molecules over valid molecules."""
    valid = canonical(smiles)
    return len(set(valid)) / len(valid) if valid else 0.0


def novelty(smiles: Sequence[str], reference: Iterable[str]) -> float:
    """Fraction of the distinct valid molecules that are not in ``reference`` (canonicalised)."""
    generated = set(canonical(smiles))
    return len(generated - set(canonical(reference))) / len(generated) if generated else 0.0


def internal_diversity(smiles: Sequence[str]) -> float:
    """MOSES IntDiv1: 1 - mean Tanimoto over all ordered pairs (self-pairs included) of the valid
    molecules, on 1024-bit ECFP4."""
    from rdkit import DataStructs

    from gentoolkit_molecules.scoring.components.similarity import fingerprint

    fps = [fingerprint(m, "ECFP4", counts=False, bits=1024) for m in _mols(smiles) if m is not None]
    if not fps:
        return 0.0
    total = sum(sum(DataStructs.BulkTanimotoSimilarity(fp, fps)) for fp in fps)
    return 1.0 - total / len(fps) ** 2


def scaffold_diversity(smiles: Sequence[str]) -> float:
    """Distinct Bemis-Murcko scaffolds over valid molecules (acyclic ones share the empty scaffold)."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    mols = [m for m in _mols(smiles) if m is not None]
    if not mols:
        return 0.0
    return len({MurckoScaffold.MurckoScaffoldSmiles(mol=m) for m in mols}) / len(mols)


def fcd(smiles: Sequence[str], reference: Sequence[str], device: str = "cpu") -> float:
    """Fréchet ChemNet Distance between the valid molecules and ``reference`` (lower is closer)."""
    import warnings

    import fcd as fcd_package

    generated, ref = canonical(smiles), canonical(reference)
    if len(generated) < 2 or len(ref) < 2:
        raise ValueError("FCD needs at least two valid molecules on each side.")
    with warnings.catch_warnings():  # the fcd package's own numpy/scipy deprecations
        warnings.simplefilter("ignore", DeprecationWarning)
        return float(fcd_package.get_fcd(generated, ref, device=device))


def top_k_mean(scores: Sequence[float], k: int) -> float:
    """Mean of the ``k`` highest scores (of all of them if there are fewer)."""
    scores = np.sort(np.asarray(scores, dtype=float))[::-1][:k]
    return float(scores.mean()) if len(scores) else 0.0


def pmo_top_k_auc(smiles_in_call_order: Sequence[str], scores: Sequence[float], budget: int,
                  k: int = 10, freq: int = 100) -> float:
    """PMO's AUC of the top-k average against oracle calls, normalised by ``budget``.

    As PMO's ``Oracle`` and ``top_auc(finish=True)``: invalid SMILES and repeats of a canonical
    molecule cost no call; a molecule is recorded only while at most ``budget`` are (so up to
    budget + 1, as PMO); the top-k mean is taken every ``freq`` calls and integrated by
    trapezoids; the last value is held to ``budget`` when fewer calls were made.
    """
    from rdkit import Chem

    if len(smiles_in_call_order) != len(scores):
        raise ValueError(f"{len(smiles_in_call_order)} SMILES but {len(scores)} scores; give one score each.")
    if budget < 1 or freq < 1 or k < 1:
        raise ValueError(f"budget, k and freq must be positive (got {budget}, {k}, {freq}).")
    buffer: dict[str, float] = {}  # canonical SMILES -> score, in call order
    for mol, score in zip(_mols(smiles_in_call_order), scores):
        if len(buffer) > budget:
            break
        if mol is not None:
            buffer.setdefault(Chem.MolToSmiles(mol), float(score))
    if not buffer:
        return 0.0
    ordered = list(buffer.values())
    area, previous, called = 0.0, 0.0, 0
    for n in range(freq, min(len(ordered), budget), freq):
        now = top_k_mean(ordered[:n], k)
        area += freq * (now + previous) / 2
        previous, called = now, n
    now = top_k_mean(ordered, k)
    area += (len(ordered) - called) * (now + previous) / 2
    if len(ordered) < budget:
        area += (budget - len(ordered)) * now
    return area / budget
