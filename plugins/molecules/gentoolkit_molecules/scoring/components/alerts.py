"""Structural alerts from RDKit's FilterCatalog (PAINS, Brenk, NIH, ZINC, ChEMBL sets): 1.0 when
the molecule matches no entry of the chosen catalogs, else 0.0."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
from rdkit import Chem
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

from gentoolkit_molecules.scoring.component import ScoringConfigError, parse_params

CATALOGS = ("PAINS", "PAINS_A", "PAINS_B", "PAINS_C", "BRENK", "NIH", "ZINC",
            "CHEMBL", "CHEMBL_BMS", "CHEMBL_LINT", "CHEMBL_MLSMR")


@cache
def catalog(names: tuple[str, ...]) -> FilterCatalog:
    """One FilterCatalog holding every named RDKit catalog (built once per process)."""
    params = FilterCatalogParams()
    for name in names:
        params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, name))
    return FilterCatalog(params)


@dataclass(frozen=True)
class Parameters:
    catalogs: list[str] = field(default_factory=lambda: ["PAINS", "BRENK"])


class StructuralAlerts:
    def __init__(self, params: Parameters):
        self.params = params
        self.names = tuple(params.catalogs)

    def __call__(self, mols: list[Chem.Mol]) -> np.ndarray:
        alerts = catalog(self.names)
        return np.array([float(not alerts.HasMatch(mol)) for mol in mols])


def create(**params) -> StructuralAlerts:
    p = parse_params(Parameters, params, "structural_alerts")
    catalogs = [p.catalogs] if isinstance(p.catalogs, str) else list(p.catalogs)
    unknown = [c for c in catalogs if c not in CATALOGS]
    if unknown or not catalogs:
        raise ScoringConfigError(f"unknown catalog {', '.join(map(repr, unknown)) or '(none given)'}; "
                                 f"known: {', '.join(CATALOGS)}.")
    return StructuralAlerts(Parameters(catalogs))
