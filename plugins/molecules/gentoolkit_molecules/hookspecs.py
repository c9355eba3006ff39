"""Hooks the molecules plugin adds to gentoolkit, for other plugins to implement.

Declared through the core's ``add_hookspecs`` hook, exactly as the core declares its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from gentoolkit.hookspecs import hookspec

if TYPE_CHECKING:
    from gentoolkit_molecules.scoring.component import ScoringComponent


@hookspec
def register_scoring_components(register: Callable[[ScoringComponent], None]) -> None:
    """Contribute scoring components (oracles): call ``register(ScoringComponent(...))`` once each.

    Called the first time a scoring config is built without explicit components, so the
    ``[[scoring.components]]`` of a molecules task can name yours. ``create(**params)`` must
    validate its params and return a picklable scorer ``mols -> np.ndarray``. Return nothing.
    """
