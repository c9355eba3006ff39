"""REINVENT 4's scaffold diversity filters: each scaffold has a bucket, and a good molecule beyond
its scaffold's bucket earns nothing, which pushes the agent off scaffolds it has already exploited.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from gentoolkit.errors import ConfigError

KINDS = ("IdenticalMurckoScaffold", "IdenticalTopologicalScaffold", "none")


def scaffold(smiles: str, kind: str) -> str:
    """The Murcko scaffold of a molecule, or its generic (all-carbon, single-bond) form."""
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return ""
    core = MurckoScaffold.GetScaffoldForMol(mol)
    if kind == "IdenticalTopologicalScaffold":
        core = MurckoScaffold.MakeScaffoldGeneric(core)
        core = MurckoScaffold.GetScaffoldForMol(core)
    return Chem.MolToSmiles(core)


class DiversityFilter:
    """Scaffold buckets over every molecule that scored at least ``minscore``.

    The first ``bucket_size`` distinct molecules of a scaffold keep their score; later ones get 0.
    A molecule seen again keeps the verdict it had the first time.
    """

    def __init__(self, kind: str = "IdenticalMurckoScaffold", bucket_size: int = 25, minscore: float = 0.4):
        if kind not in KINDS:
            raise ConfigError(f"Unknown diversity filter type {kind!r}; use one of {', '.join(KINDS)}.")
        if bucket_size < 1:
            raise ConfigError(f"diversity_filter.bucket_size must be at least 1, got {bucket_size}.")
        self.kind, self.bucket_size, self.minscore = kind, bucket_size, minscore
        self.buckets: dict[str, list[str]] = {}  # scaffold -> its molecules, in the order first seen
        self.verdict: dict[str, bool] = {}  # SMILES -> kept (True) or zeroed (False)

    @classmethod
    def from_config(cls, table: dict[str, Any]) -> DiversityFilter:
        """From a ``[diversity_filter]`` table: ``type``, ``bucket_size``, ``minscore``."""
        table = dict(table)
        return cls(table.pop("type", "IdenticalMurckoScaffold"), **table)

    def __call__(self, smiles: Sequence[str | None], scores: np.ndarray) -> np.ndarray:
        """Scores after the filter; ``None`` SMILES (invalid) pass through unchanged."""
        scores = np.asarray(scores, dtype=float).copy()
        if self.kind == "none":
            return scores
        for i, smi in enumerate(smiles):
            if smi is None or scores[i] < self.minscore:
                continue
            if smi not in self.verdict:
                bucket = self.buckets.setdefault(scaffold(smi, self.kind), [])
                bucket.append(smi)
                self.verdict[smi] = len(bucket) <= self.bucket_size
            if not self.verdict[smi]:
                scores[i] = 0.0
        return scores

    def state_dict(self) -> dict[str, Any]:
        return {"buckets": self.buckets}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.buckets = {k: list(v) for k, v in state["buckets"].items()}
        self.verdict = {smi: i < self.bucket_size for b in self.buckets.values() for i, smi in enumerate(b)}
