"""What plugins contribute through the ``register_*`` hooks, and what a task run returns.

Plain dataclasses with no heavy imports: building one costs nothing, so a plugin's
``register_*`` hooks can run at start-up. The callables they hold import torch and friends
only when called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

__all__ = ["Model", "Dataset", "Evaluator", "Task", "RunResult", "Artifact", "Settings"]

if TYPE_CHECKING:
    from gentoolkit.runtime import Runtime


@dataclass(frozen=True)
class Model:
    """A model architecture. ``create(**params)`` builds a fresh, untrained instance.

    ``params`` is the parameter schema: the defaults of every keyword ``create`` takes (or a
    function returning them, so the schema can come from a module that imports torch). The
    toolkit validates a user's params against it: unknown keys are refused, types checked; an
    empty schema accepts any keys. ``capabilities`` names the :mod:`gentoolkit.protocols` the
    instances implement (``sample``, ``log_prob``, ``encode``, ``train``) and ``items`` the kind
    of item they work on (``image``, ``text``, ``smiles``, ``waveform``, ``tabular``).
    ``save(model, path, card)`` and ``load(path, device=...)`` replace the default way of saving
    (``gentoolkit.models.save_model``: weights plus card) and loading (``create(**params)``, then
    the weights) where that does not fit, e.g. a Hugging Face model saved as a folder. A ``load``
    that takes a ``toolkit`` keyword gets the loading Toolkit, to rebuild other plugins' models it wraps.
    """

    name: str
    create: Callable[..., Any]
    description: str = ""
    domain: str = ""
    params: Mapping[str, Any] | Callable[[], Mapping[str, Any]] = field(default_factory=dict)
    capabilities: tuple[str, ...] = ()
    items: str = ""
    save: Callable[..., Any] | None = None
    load: Callable[..., Any] | None = None

    def param_schema(self) -> dict[str, Any]:
        """The parameter defaults (calling ``params`` when it is a function)."""
        return dict(self.params() if callable(self.params) else self.params)


@dataclass(frozen=True)
class Dataset:
    """A dataset. ``load(**params)`` returns it (a sequence, a tensor dataset, a list of SMILES...).

    ``items`` is the kind of item it holds (as for :class:`Model`), so a task can offer every
    registered dataset of its kind. A loaded dataset may carry an ``item_spec``
    (:class:`gentoolkit.protocols.ItemSpec`) with its shape, value range and class names.
    """

    name: str
    load: Callable[..., Any]
    description: str = ""
    domain: str = ""
    items: str = ""


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
    only name keys present here (an empty table accepts any keys). ``ranges`` (nested like
    ``config``) gives numbers their valid range, e.g. ``{"train": {"lr": "> 0"}}``; ``headline``
    names the metric ``gentoolkit runs`` shows (default: the first).
    ``run(runtime, config)`` does the work, writes into ``runtime.out_dir`` and returns a
    :class:`RunResult`.
    """

    name: str
    run: Callable[[Runtime, dict[str, Any]], RunResult]
    config: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    domain: str = ""
    ranges: Mapping[str, Any] = field(default_factory=dict)
    headline: str = ""


@dataclass(frozen=True)
class Settings:
    """A plugin's settings table, added to every task's config as ``[name]`` (``--set name.key=...``).

    ``defaults`` is the schema, validated like a task's config (unknown keys refused with
    suggestions, types checked, numbers within ``ranges``); the run's values reach the plugin as
    ``runtime.settings(name)``. Keys in ``secret`` are never written to ``config.toml``, shown or
    tracked. ``check(table)`` is called by ``Toolkit.run`` before any work starts: raise a
    ``GentoolkitError`` for a setup that would fail later (an expired certificate).
    """

    name: str
    defaults: Mapping[str, Any]
    description: str = ""
    ranges: Mapping[str, Any] = field(default_factory=dict)
    secret: tuple[str, ...] = ()
    check: Callable[[dict[str, Any]], None] | None = None


@dataclass
class RunResult:
    """What a task run hands back to a Python caller (the CLI prints the metrics)."""

    task: str
    out_dir: Path | None
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Artifact:
    """A file of generated content a task wrote, as ``process_artifact`` hooks see it."""

    path: Path
    kind: str  # "image", "text", "audio", "molecules", ... (what the content is)
    task: str  # the task that made it
    metadata: dict[str, Any] = field(default_factory=dict)  # model card, seed, ... (JSON-able)
    processed: dict[str, Any] = field(default_factory=dict)  # plugin name -> what its hook returned
