"""What plugins contribute through the ``register_*`` hooks, and what a task run returns.

Plain dataclasses with no heavy imports: building one costs nothing, so a plugin's
``register_*`` hooks can run at start-up. The callables they hold import torch and friends
only when called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    from gentoolkit.runtime import Runtime


@dataclass(frozen=True)
class Model:
    """A model architecture. ``create(**params)`` builds a fresh, untrained instance."""

    name: str
    create: Callable[..., Any]
    description: str = ""
    domain: str = ""


@dataclass(frozen=True)
class Dataset:
    """A dataset. ``load(**params)`` returns it (a sequence, a tensor dataset, a list of SMILES...)."""

    name: str
    load: Callable[..., Any]
    description: str = ""
    domain: str = ""


@dataclass(frozen=True)
class Evaluator:
    """A metric. ``evaluate(samples, **params)`` returns a mapping of metric name to number."""

    name: str
    evaluate: Callable[..., Mapping[str, float]]
    description: str = ""
    domain: str = ""


@dataclass(frozen=True)
class Task:
    """A runnable job: ``gentoolkit run NAME``.

    ``config`` holds the defaults and is the schema: a user's TOML and ``--set`` overrides may
    only name keys present here (an empty table accepts any keys). ``run(runtime, config)``
    does the work, writes into ``runtime.out_dir`` and returns a :class:`RunResult`.
    """

    name: str
    run: Callable[[Runtime, dict[str, Any]], RunResult]
    config: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    domain: str = ""


@dataclass
class RunResult:
    """What a task run hands back to a Python caller (the CLI prints the metrics)."""

    task: str
    out_dir: Path | None
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
