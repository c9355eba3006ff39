"""What a plugin registers through ``register_targets``: a named, parametrised MCMC target.

A plain dataclass with no heavy imports, so registering costs nothing; ``create`` imports torch
only when called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class TargetSpec:
    """A target distribution. ``create(**params)`` builds it; ``params`` are the defaults (and schema).
    With ``needs_toolkit``, ``create`` also gets ``toolkit=`` (the running Toolkit), to reach other
    plugins' models and scores through the registry."""

    name: str
    create: Callable[..., Any]
    description: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    needs_toolkit: bool = False
