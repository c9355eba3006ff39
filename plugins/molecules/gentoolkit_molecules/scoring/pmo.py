"""The PMO benchmark's oracles (Gao et al. 2022) as scoring configs.

Each is TDC's ``Oracle(name)`` (``tdc/chem_utils/oracle/oracle.py``), itself GuacaMol's
definition (``standard_benchmarks.py``): unfolded count Morgan fingerprints for the Tanimoto
terms, GuacaMol's modifiers as transforms, and an unweighted geometric mean where TDC takes
``gmean``. Use one as ``[scoring]`` (``gentoolkit run molecules --set objective=...`` in the task).
"""

from __future__ import annotations

from typing import Any

CELECOXIB = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"
OSIMERTINIB = "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34"
CAMPHOR = "CC1(C)C2CCC1(C)C(=O)C2"
MENTHOL = "CC(C)C1CCC(C)CC1O"


def _similarity(label: str, smiles: str, fingerprint: str, transform: dict | None = None) -> dict[str, Any]:
    return {"component": "tanimoto_similarity", "name": label,
            "params": {"smiles": [smiles], "fingerprint": fingerprint, "counts": True},
            "transform": transform or {"type": "none"}}


PMO_ORACLES: dict[str, dict[str, Any]] = {
    "qed": {"aggregation": "arithmetic", "components": [{"component": "qed"}]},
    "celecoxib_rediscovery": {
        "aggregation": "arithmetic",
        "components": [_similarity("celecoxib_similarity", CELECOXIB, "ECFP4")],
    },
    "osimertinib_mpo": {
        "aggregation": "geometric",
        "components": [
            {"component": "tpsa", "transform": {"type": "max_gaussian", "mu": 100.0, "sigma": 10.0}},
            {"component": "logp", "transform": {"type": "min_gaussian", "mu": 1.0, "sigma": 1.0}},
            _similarity("osimertinib_fcfp4", OSIMERTINIB, "FCFP4", {"type": "clipped", "upper_x": 0.8}),
            _similarity("osimertinib_ecfp6", OSIMERTINIB, "ECFP6",
                        {"type": "min_gaussian", "mu": 0.85, "sigma": 0.1}),
        ],
    },
    "isomers_c7h8n2o2": {
        "aggregation": "arithmetic",
        "components": [{"component": "isomer_score", "params": {"formula": "C7H8N2O2", "mean": "geometric"}}],
    },
    "median1": {
        "aggregation": "geometric",
        "components": [_similarity("camphor_similarity", CAMPHOR, "ECFP4"),
                       _similarity("menthol_similarity", MENTHOL, "ECFP4")],
    },
}
