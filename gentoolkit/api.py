"""The Python entry point for pipelines: ``gentoolkit.Toolkit``.

    from gentoolkit import Toolkit
    kit = Toolkit()
    result = kit.run("molecules", overrides={"rl.max_steps": 20})
    result.metrics["top10_mean"], result.outputs
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from gentoolkit import config as _config
from gentoolkit.contributions import Dataset, Evaluator, Model, RunResult, Task
from gentoolkit.plugins import PluginHost, load_plugins, set_host
from gentoolkit.registry import Registry
from gentoolkit.runtime import Runtime, RuntimeOptions


class Toolkit:
    """Plugins, their contributions, and runs on the shared runtime.

    ``Toolkit()`` loads every installed plugin; ``Toolkit(plugins=[obj], entrypoints=False)``
    uses only the given plugin objects (handy in tests and closed pipelines).
    """

    def __init__(self, plugins: Iterable[Any] = (), entrypoints: bool = True, host: PluginHost | None = None):
        self.host = host or load_plugins(plugins, entrypoints=entrypoints)
        set_host(self.host)  # plugin-declared registries (e.g. scoring components) read this host

    # --- what plugins contribute ---------------------------------------------------------------

    @property
    def models(self) -> Registry[Model]:
        return self.host.registry("models")

    @property
    def datasets(self) -> Registry[Dataset]:
        return self.host.registry("datasets")

    @property
    def evaluators(self) -> Registry[Evaluator]:
        return self.host.registry("evaluators")

    @property
    def tasks(self) -> Registry[Task]:
        return self.host.registry("tasks")

    def create_model(self, name: str, **params: Any) -> Any:
        """A fresh model from the contribution ``name``."""
        return self.models[name].create(**params)

    def load_dataset(self, name: str, **params: Any) -> Any:
        """The dataset contributed as ``name``."""
        return self.datasets[name].load(**params)

    def evaluate(self, name: str, samples: Any, **params: Any) -> dict[str, float]:
        """Run the evaluator ``name`` on ``samples``; returns metric name -> value."""
        return dict(self.evaluators[name].evaluate(samples, **params))

    # --- runs ----------------------------------------------------------------------------------

    def config(self, task: str, config: Mapping[str, Any] | str | Path | None = None,
               overrides: Iterable[str] | Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The effective, validated config of ``task`` (defaults, then ``config``, then ``overrides``)."""
        return _config.resolve(self.tasks[task].config, config, overrides)

    def run(self, task: str, config: Mapping[str, Any] | str | Path | None = None,
            overrides: Iterable[str] | Mapping[str, Any] | None = None,
            options: RuntimeOptions | None = None) -> RunResult:
        """Run ``task`` on a fresh runtime and return its result.

        The config is validated before any work starts; the effective config is saved as
        ``config.toml`` in the run folder.
        """
        spec = self.tasks[task]
        effective = _config.resolve(spec.config, config, overrides)
        with Runtime(options, task=task) as runtime:
            if runtime.is_main:
                _config.write_toml(effective, runtime.out_dir / "config.toml")
            result = spec.run(runtime, effective)
        if result.out_dir is None:
            result.out_dir = runtime.out_dir
        return result
