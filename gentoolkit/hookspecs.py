"""Every hook gentoolkit defines, in one place.

Plugins implement these with ``@gentoolkit.hookimpl``. Contribution hooks hand the plugin a
``register`` callback (as ``llm`` does): the host owns the registry, so duplicate names, lookup
and listings are the host's job. A plugin adds hooks of its own through ``add_hookspecs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:
    from gentoolkit.cli import Commands
    from gentoolkit.contributions import Artifact, Dataset, Evaluator, Model, Settings, Task
    from gentoolkit.runtime import Runtime

__all__ = ["hookspec", "hookimpl", "PROJECT", "add_hookspecs", "register_models", "register_datasets",
           "register_evaluators", "register_tasks", "register_commands", "register_settings", "process_artifact",
           "generation_watermark"]

PROJECT = "gentoolkit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- Initialisation hooks, called once for every plugin as it is registered ---------------------


@hookspec(historic=True)
def add_hookspecs(pluginmanager: pluggy.PluginManager) -> None:
    """Declare hook specifications of your own, for other plugins to implement.

    Called by the plugin manager for every plugin as it is registered (historic, so plugins
    registered later still see it), before any contribution hook runs. Call
    ``pluginmanager.add_hookspecs(module_or_class)``; return nothing.
    """


# --- Contribution hooks, called once per plugin when the registry is first read ------------------


@hookspec
def register_models(register: Callable[[Model], None]) -> None:
    """Contribute model architectures: call ``register(Model(...))`` once per model.

    Called by the registry the first time models are listed or looked up. Return nothing;
    a name another plugin already registered is reported as a conflict naming both plugins.
    """


@hookspec
def register_datasets(register: Callable[[Dataset], None]) -> None:
    """Contribute datasets: call ``register(Dataset(...))`` once per dataset.

    Called by the registry the first time datasets are listed or looked up. Return nothing.
    """


@hookspec
def register_evaluators(register: Callable[[Evaluator], None]) -> None:
    """Contribute evaluators (metrics): call ``register(Evaluator(...))`` once per evaluator.

    Called by the registry the first time evaluators are listed or looked up. Return nothing.
    """


@hookspec
def register_tasks(register: Callable[[Task], None]) -> None:
    """Contribute runnable tasks, what ``gentoolkit run NAME`` executes: ``register(Task(...))``.

    Called by the registry the first time tasks are listed or looked up. A task carries its
    default config, which is also the schema its user config is validated against.
    """


@hookspec
def register_commands(cli: Commands) -> None:
    """Add command-line commands: ``cli.app`` is the root Typer app, ``cli.group("train")``
    a verb group such as ``gentoolkit train NAME``.

    Called once by the CLI while it is built, before arguments are parsed. Keep heavy imports
    inside the command functions so ``gentoolkit --help`` stays fast.
    """


@hookspec
def register_settings(register: Callable[[Settings], None]) -> None:
    """Declare a settings table every task's run carries: ``register(Settings("provenance", {...}))``.

    Called by the registry the first time a task's config is resolved. The core validates the
    user's ``[name]`` table and ``--set name.key=...`` against the defaults, saves it in the run's
    config.toml and hands it to the plugin as ``runtime.settings(name)``. Return nothing.
    """


# --- Run hooks, called while a task runs -------------------------------------------------------


@hookspec
def process_artifact(artifact: Artifact, runtime: Runtime) -> dict | None:
    """Process a file of generated content a task has just written: watermark it, sign it, record it.

    Called by ``runtime.generated(path, kind)`` (rank 0 only) for every such file, in plugin
    registration order; the file may be rewritten in place. Return a JSON-able dict of what was
    done (kept in ``runtime.artifacts``), or None to leave it alone.
    """


@hookspec(firstresult=True)
def generation_watermark(kind: str, runtime: Runtime) -> dict | None:
    """Settings for a watermark applied while content of ``kind`` is generated, not after.

    Called by ``runtime.watermark(kind)`` from a task about to generate (the text plugin asks for
    "text": keywords of transformers' ``WatermarkingConfig``). The first non-None answer wins;
    None everywhere means generate unmarked.
    """
