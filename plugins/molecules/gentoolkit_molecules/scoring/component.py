"""What a scoring component is, and the error a bad scoring config raises."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import TYPE_CHECKING, Any, Callable

from gentoolkit.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    from rdkit import Chem


class ScoringConfigError(ConfigError):
    """A scoring config that cannot work: bad params, SMILES, SMARTS, weights or transforms."""


@dataclass(frozen=True)
class ScoringComponent:
    """A named oracle. ``create(**params)`` checks its params and returns a picklable scorer.

    The scorer maps a list of RDKit molecules (all valid) to one raw float per molecule.
    ``expensive`` components run in the runtime's worker pool (``--executor``, ``scoring.parallel``);
    for a molecule it cannot score, such a scorer raises or returns NaN and sets ``scorer.reasons``
    (index in the last call -> text); the molecule then scores 0 with that reason.
    """

    name: str
    create: Callable[..., Callable[[list[Chem.Mol]], np.ndarray]]
    description: str = ""
    expensive: bool = False


def parse_params(cls: type, params: dict[str, Any], what: str) -> Any:
    """Build the params dataclass ``cls`` from a config table; unknown or missing keys say which."""
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ScoringConfigError(f"{what} has no parameter {', '.join(map(repr, unknown))}; "
                                 f"it takes: {', '.join(names) or 'none'}.")
    missing = [f.name for f in fields(cls) if f.name not in params
               and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise ScoringConfigError(f"{what} needs the parameter {', '.join(map(repr, missing))}.")
    return cls(**params)
