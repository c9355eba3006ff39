"""SMILES augmentation for Augmented Memory (Guo & Schwaller 2024): the same molecule written
from a random atom order, so the agent learns the molecule rather than one of its strings.

The atom order comes from a torch generator (not RDKit's own random source), so a seeded run,
and a resumed one, re-presents exactly the same strings.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch


def randomized_smiles(smiles: Sequence[str], generator: torch.Generator,
                      encodable: Callable[[str], bool] = lambda s: True, tries: int = 5,
                      fallback: Sequence[str] | None = None) -> list[str]:
    """A random (non-canonical) SMILES of each molecule that ``encodable`` accepts.

    A molecule whose random forms the prior cannot encode (a ring-closure digit or a length it
    never saw) after ``tries`` attempts gets its ``fallback`` (the SMILES the prior sampled),
    else keeps the SMILES it came with.
    """
    from rdkit import Chem

    out = []
    for i, text in enumerate(smiles):
        mol = Chem.MolFromSmiles(text)
        chosen = fallback[i] if fallback is not None else text
        for _ in range(tries if mol is not None and mol.GetNumAtoms() > 1 else 0):
            order = torch.randperm(mol.GetNumAtoms(), generator=generator).tolist()
            candidate = Chem.MolToSmiles(Chem.RenumberAtoms(mol, order), canonical=False)
            if encodable(candidate):
                chosen = candidate
                break
        out.append(chosen)
    return out
