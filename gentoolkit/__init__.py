"""gentoolkit: a pluggy host for generative models.

Plugins contribute models, datasets, evaluators, tasks and commands through the hooks in
:mod:`gentoolkit.hookspecs`; everything runs on the shared :class:`~gentoolkit.runtime.Runtime`.
Models of every plugin share one contract (:mod:`gentoolkit.protocols`), so any plugin can use
any other plugin's trained models through the registry.
Importing this package is cheap: torch loads only when a run needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gentoolkit.contributions import Dataset, Evaluator, Model, RunResult, Task
from gentoolkit.errors import CheckpointError, ConfigError, GentoolkitError, PluginError, UnknownNameError
from gentoolkit.hookspecs import hookimpl, hookspec
from gentoolkit.models import ModelCard
from gentoolkit.protocols import Autoencoder, Density, ItemSpec, Sampler, Trainable

if TYPE_CHECKING:
    from gentoolkit.api import Toolkit
    from gentoolkit.runtime import Runtime, RuntimeOptions

__version__ = "0.1.0"
__all__ = [
    "Toolkit", "Runtime", "RuntimeOptions", "Model", "Dataset", "Evaluator", "Task", "RunResult",
    "hookimpl", "hookspec", "GentoolkitError", "UnknownNameError", "ConfigError", "CheckpointError",
    "PluginError", "Sampler", "Density", "Autoencoder", "Trainable", "ItemSpec", "ModelCard",
]


def __getattr__(name: str) -> Any:
    # The API and runtime pull in more modules; load them on first use.
    if name == "Toolkit":
        from gentoolkit.api import Toolkit

        return Toolkit
    if name in ("Runtime", "RuntimeOptions"):
        from gentoolkit import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'gentoolkit' has no attribute {name!r}")
