"""The Python entry point for pipelines: ``gentoolkit.Toolkit``.

    from gentoolkit import Toolkit
    kit = Toolkit()
    result = kit.run("molecules", overrides={"rl.max_steps": 20})
    result.metrics["top10_mean"], result.outputs
    vae = kit.load_model("runs/image/<run>/model.json")   # any plugin's saved model

Each Toolkit has its own plugin host: two in one process never share registries.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Iterable, Mapping

from gentoolkit import config as _config
from gentoolkit import runlog
from gentoolkit.contributions import Dataset, Evaluator, Model, RunResult, Settings, Task
from gentoolkit.errors import CheckpointError, ConfigError, PluginError, UnknownNameError
from gentoolkit.models import ModelCard, card_of, read_card, save_model
from gentoolkit.plugins import PluginHost, load_plugins
from gentoolkit.protocols import ItemSpec
from gentoolkit.registry import Registry
from gentoolkit.runtime import Runtime, RuntimeOptions
from gentoolkit.tracking import track_result, with_tracking

__all__ = ["Toolkit"]


class Toolkit:
    """Plugins, their contributions, and runs on the shared runtime.

    ``Toolkit()`` loads every installed plugin; ``Toolkit(plugins=[obj], entrypoints=False)``
    uses only the given plugin objects (handy in tests and closed pipelines).
    """

    def __init__(self, plugins: Iterable[Any] = (), entrypoints: bool = True, host: PluginHost | None = None):
        self.host = host or load_plugins(plugins, entrypoints=entrypoints)

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

    @property
    def settings(self) -> Registry[Settings]:
        """Plugins' settings tables (``register_settings``), added to every task's config."""
        return self.contributions("register_settings", "settings table")

    def contributions(self, hook_name: str, kind: str) -> Registry:
        """What every plugin registered through ``hook_name(register)``, including hooks that a
        plugin declared itself (e.g. the molecules plugin's ``register_scoring_components``)."""
        return self.host.contributions(hook_name, kind)

    # --- models: create, save, load --------------------------------------------------------------

    def create_model(self, name: str, **params: Any) -> Any:
        """A fresh model from the contribution ``name``, its ``params`` checked against the
        model's schema (unknown keys refused, types checked). The model carries its
        :class:`~gentoolkit.models.ModelCard`, so :meth:`save_model` can store it."""
        entry = self.models.entry(name)
        schema = entry.value.param_schema()
        try:
            params = _config.merge(_jsonable(schema), _jsonable(params), where="params") if schema else params
        except ConfigError as err:
            raise ConfigError(f"Model {name!r}: {err}") from None
        model = entry.value.create(**params)
        _attach_card(model, self.card_for(name, params))
        return model

    def card_for(self, name: str, params: Mapping[str, Any]) -> ModelCard:
        """The card of the registered model ``name`` built with ``params``: for a plugin that
        writes a model itself (a Hugging Face folder) and wants ``load_model`` to find it."""
        entry = self.models.entry(name)
        version = self.host.plugins[entry.plugin].version if entry.plugin in self.host.plugins else ""
        return ModelCard(name, entry.plugin, version, dict(params))

    def save_model(self, model: Any, path: str | Path, metadata: Mapping[str, Any] | None = None) -> Path:
        """Save a model made by :meth:`create_model` or :meth:`load_model` so that any
        toolkit with its plugin installed can :meth:`load_model` it. Returns the path to give."""
        card = card_of(model)
        entry = self.models.entry(card.name) if card is not None else None
        if entry is not None and entry.value.save is not None:
            return Path(entry.value.save(model, path, card))
        return save_model(model, path, metadata=metadata)

    def load_model(self, path: str | Path, device: str = "cpu") -> Any:
        """Rebuild the model saved at ``path`` (a checkpoint ``NAME.json`` or a model folder),
        whichever plugin made it; refuses one whose plugin is not installed, with what to do."""
        card = read_card(path)
        try:
            entry = self.models.entry(card.name)
        except UnknownNameError:
            raise CheckpointError(
                f"{path} holds the model {card.name!r} of plugin {card.plugin!r} (version {card.version or '?'}), "
                f"which is not installed here. Install it (gentoolkit plugins install {card.plugin}) and try "
                "again.") from None
        if entry.plugin != card.plugin:
            raise CheckpointError(f"{path} holds the model {card.name!r} of plugin {card.plugin!r}, but that "
                                  f"name now comes from plugin {entry.plugin!r}; install {card.plugin!r}.")
        if entry.value.load is not None:
            wants_toolkit = "toolkit" in inspect.signature(entry.value.load).parameters
            model = entry.value.load(path, device=device, **({"toolkit": self} if wants_toolkit else {}))
        else:
            model = _load_weights(entry.value.create(**card.params), path, device)
        _attach_card(model, card)
        return model

    def names_of(self, what: str, items: str = "", can: Iterable[str] = ()) -> list[str]:
        """The registered ``models`` or ``datasets`` holding ``items`` (any kind when empty) and
        having every capability in ``can``: what a task may offer, what ``models --can`` lists."""
        needed = set(can)
        return [e.name for e in self.host.registry(what).entries()
                if (not items or e.value.items == items) and needed <= set(getattr(e.value, "capabilities", ()))]

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
        spec = self.tasks[task]
        schema, ranges = with_tracking(spec.config), dict(spec.ranges)
        for table in self.settings.values():  # a task's own table of that name wins, as for tracking
            if table.name not in schema:
                schema[table.name] = dict(table.defaults)
                ranges[table.name] = dict(table.ranges)
        return _config.resolve(schema, config, overrides, ranges)

    def public(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` without the secret settings (keys), as saved in config.toml, shown and tracked."""
        public = dict(config)
        for table in self.settings.values():
            if table.secret and isinstance(public.get(table.name), Mapping):
                public[table.name] = {k: v for k, v in public[table.name].items() if k not in table.secret}
        return public

    def run(self, task: str, config: Mapping[str, Any] | str | Path | None = None,
            overrides: Iterable[str] | Mapping[str, Any] | None = None,
            options: RuntimeOptions | None = None) -> RunResult:
        """Run ``task`` on a fresh runtime and return its result.

        The config is validated before any work starts; the effective config is saved as
        ``config.toml`` and how the run went as ``run.json`` (see :mod:`gentoolkit.runlog`); the config
        is tracked as params and the artefact files as artefacts (see :mod:`gentoolkit.tracking`).
        """
        spec = self.tasks[task]
        effective = self.config(task, config, overrides)
        settings = {t.name: effective[t.name] for t in self.settings.values() if t.name in effective}
        for table in self.settings.values():
            if table.check is not None and table.name in settings:
                table.check(settings[table.name])  # a broken setup fails now, not after hours of work
        with (Runtime(options, task=task, toolkit=self, tracking=effective["tracking"], settings=settings) as runtime,
              runlog.recorded(runtime, task, self.host.plugins, spec.headline) as record):
            if runtime.is_main:
                _config.write_toml(self.public(effective), runtime.out_dir / "config.toml")
            runtime.track_params(self.public(effective))
            result = spec.run(runtime, effective)
            if not isinstance(result, RunResult):
                raise PluginError(f"Task {task!r} (plugin {self.tasks.entry(task).plugin}) returned "
                                  f"{type(result).__name__}, not a gentoolkit.RunResult; its plugin needs a fix.")
            if record is not None:
                record.metrics = result.metrics
            track_result(runtime, result)
        if result.out_dir is None:
            result.out_dir = runtime.out_dir
        return result

    def fit(self, model: Any, dataset: Any, options: RuntimeOptions | None = None, **loop: Any) -> list[dict]:
        """Train ``model`` (or the registered model of that name) on ``dataset`` (or the
        registered dataset of that name) with the core loop, on a fresh runtime; returns the
        per-epoch history. ``loop`` takes :func:`gentoolkit.training.fit`'s keywords (epochs,
        batch_size, ...); checkpoints go to ``options.out``."""
        from gentoolkit.training import fit

        model = self.create_model(model) if isinstance(model, str) else model
        dataset = self.load_dataset(dataset) if isinstance(dataset, str) else dataset
        with Runtime(options, task="fit", toolkit=self) as runtime:
            return fit(model, dataset, runtime, **loop)


def _jsonable(value: Any) -> Any:
    """Tuples as lists, so params compare with a JSON schema and save in a model card."""
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _attach_card(model: Any, card: ModelCard) -> None:
    if card.item_spec is None and isinstance(getattr(model, "item_spec", None), ItemSpec):
        card = ModelCard(card.name, card.plugin, card.version, card.params, model.item_spec)
    try:
        model.model_card = card
    except AttributeError:
        pass  # plain data (a dict, a number) carries no card; it cannot be saved as a model


def _load_weights(model: Any, path: str | Path, device: str) -> Any:
    from gentoolkit.checkpoint import load_checkpoint

    state, _ = load_checkpoint(path, device=device)
    if "model" not in state or not hasattr(model, "load_state_dict"):
        raise CheckpointError(f"Checkpoint {path} holds no model weights.")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise CheckpointError(f"Checkpoint {path} does not fit the model its card describes: "
                              f"{str(err).splitlines()[0]}") from err
    if hasattr(model, "to"):
        model.to(device)
    if hasattr(model, "eval"):
        model.eval()
    return model
