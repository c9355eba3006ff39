"""Hooks the sampling plugin adds to gentoolkit, for other plugins to implement.

Declared through the core's ``add_hookspecs`` hook, exactly as the core declares its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from gentoolkit.hookspecs import hookspec

if TYPE_CHECKING:
    from gentoolkit_sampling.spec import TargetSpec


@hookspec
def register_targets(register: Callable[[TargetSpec], None]) -> None:
    """Contribute MCMC targets: call ``register(TargetSpec(...))`` once each.

    Called the first time the sampling task looks a target up, so ``--set target=NAME`` can
    name yours. ``create(**params)`` returns an object with ``dim``, ``param_names`` and a
    differentiable ``log_prob(x)`` mapping (B, dim) tensors to (B,) log-densities. Return nothing.
    """
