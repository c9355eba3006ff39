"""The plugin manager: built-in and third-party plugins load the same way.

Plugins are modules (or objects) with ``@hookimpl`` functions, found through the entry-point
group ``gentoolkit``. ``GENTOOLKIT_LOAD_PLUGINS`` (a comma list; empty loads none) restricts what
loads, and ``GENTOOLKIT_TRACE_PLUGINS=1`` prints every hook call. A plugin that fails to import,
or whose hook raises, is recorded with its name and error and warned about (:class:`PluginWarning`);
the others keep working. An implementation of a hook nobody declares (a misspelt
``register_model``) is that plugin's error, as pluggy's ``check_pending`` finds it for pytest.
"""

from __future__ import annotations

import difflib
import os
import sys
import traceback
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Iterable

import pluggy

from gentoolkit import hookspecs
from gentoolkit.errors import GentoolkitError, PluginError, PluginWarning
from gentoolkit.registry import Registry

ENTRY_POINT_GROUP = "gentoolkit"
LOAD_ENV = "GENTOOLKIT_LOAD_PLUGINS"
TRACE_ENV = "GENTOOLKIT_TRACE_PLUGINS"

# The contribution hooks the host itself reads, with the kind of thing each registers.
CORE_REGISTRIES = {
    "models": ("register_models", "model"),
    "datasets": ("register_datasets", "dataset"),
    "evaluators": ("register_evaluators", "evaluator"),
    "tasks": ("register_tasks", "task"),
}


@dataclass
class PluginInfo:
    """What ``gentoolkit plugins`` shows for one plugin."""

    name: str
    version: str = ""
    distribution: str = ""
    status: str = "loaded"  # loaded | error (a hook raised) | failed | skipped
    errors: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)


class PluginHost:
    """A pluggy manager plus the registries built from its plugins' contributions."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        # Historic: every plugin registered from now on gets add_hookspecs called, as pytest_addhooks.
        self.pm.hook.add_hookspecs.call_historic(kwargs={"pluginmanager": self.pm})
        self.plugins: dict[str, PluginInfo] = {}
        self._registries: dict[str, Registry] = {}
        self._loaded = False
        self._checked = True  # no plugin registered since unknown hooks were last looked for
        self.trace = os.environ.get(TRACE_ENV, "") not in ("", "0")
        if self.trace:
            self.pm.trace.root.setwriter(lambda line: print(f"[gentoolkit trace] {line}", end="", file=sys.stderr))
            self.pm.enable_tracing()

    # --- loading -------------------------------------------------------------------------------

    def load_entrypoints(self) -> PluginHost:
        """Load every plugin of the ``gentoolkit`` entry-point group once (idempotent)."""
        if self._loaded:
            return self
        self._loaded = True
        wanted = _wanted_plugins()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            info = PluginInfo(ep.name, version=dist.version if dist else "", distribution=dist.name if dist else "")
            self.plugins[ep.name] = info
            if wanted is not None and ep.name not in wanted:
                info.status = "skipped"
                continue
            try:
                plugin = ep.load()
            except Exception as err:  # a broken plugin must not take the others down
                self._fail(info, f"import failed: {type(err).__name__}: {err}")
                continue
            self._register(plugin, info)
        return self

    def register(self, plugin: Any, name: str | None = None) -> PluginInfo:
        """Register a plugin object or module directly (tests, pipelines, built-ins). An installed plugin
        keeps its entry point's name and version, since the models it saves record that name."""
        installed = None if name else _entry_point_of(plugin)
        if installed is not None:
            dist = getattr(installed, "dist", None)
            info = self.plugins.setdefault(installed.name, PluginInfo(
                installed.name, version=dist.version if dist else "", distribution=dist.name if dist else ""))
        else:
            name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
            info = self.plugins.setdefault(name, PluginInfo(name))
        self._register(plugin, info)
        return info

    def _register(self, plugin: Any, info: PluginInfo) -> None:
        try:
            self.pm.register(plugin, name=info.name)
        except Exception as err:  # bad hook signature, or its add_hookspecs raised
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._fail(info, f"registration failed: {type(err).__name__}: {err}")
            return
        info.status = "loaded"
        info.hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
        self._registries.clear()
        self._checked = False

    def check_pending(self) -> None:
        """Fail each plugin that implements a hook no plugin declares (called before hooks run).

        Deferred until hooks are used, since a plugin may declare hooks that one registered
        earlier implements.
        """
        if self._checked:
            return
        self._checked = True
        declared = [name for name in dir(self.pm.hook) if getattr(getattr(self.pm.hook, name), "spec", None)]
        for name, plugin in list(self.pm.list_name_plugin()):
            unknown = [c.name for c in self.pm.get_hookcallers(plugin) or [] if c.spec is None
                       and not all(i.optionalhook for i in c.get_hookimpls() if i.plugin is plugin)]
            if unknown:
                hints = [f"{u!r}" + (f" (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(
                    u, declared, n=1)) else "") for u in unknown]
                self.pm.unregister(plugin)
                self._fail(self.plugins.setdefault(name, PluginInfo(name)),
                           f"implements unknown hook(s) {', '.join(hints)}; no plugin declares them")
                self._registries.clear()

    def _fail(self, info: PluginInfo, message: str) -> None:
        info.status = "failed"
        info.errors.append(message)
        warnings.warn(f"plugin {info.name!r}: {message}", PluginWarning, stacklevel=2)
        if self.trace:
            traceback.print_exc(file=sys.stderr)

    # --- calling hooks -------------------------------------------------------------------------

    def call_each(self, hook_name: str, **kwargs: Any) -> None:
        """Call ``hook_name`` on each plugin in turn; a plugin whose hook raises is recorded, not fatal."""
        for impl in self._impls(hook_name, "it"):
            self._call_impl(impl, hook_name, kwargs)

    def call_strict(self, hook_name: str, **kwargs: Any) -> dict[str, Any]:
        """Call ``hook_name`` on each plugin in turn for work that must not be skipped silently
        (marking generated content): a hook that raises stops the run with a PluginError naming
        the plugin. Returns each plugin's non-None result by plugin name."""
        results = {}
        for impl in self._impls(hook_name, "it"):
            if self.trace:
                print(f"[gentoolkit trace] {impl.plugin_name}.{hook_name}({', '.join(impl.argnames)})", file=sys.stderr)
            try:
                result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except GentoolkitError:
                raise
            except Exception as err:
                raise PluginError(f"Plugin {impl.plugin_name!r} failed in {hook_name}: {type(err).__name__}: {err}. "
                                  f"Fix or disable it (GENTOOLKIT_LOAD_PLUGINS).") from err
            if result is not None:
                results[impl.plugin_name] = result
        return results

    def contributions(self, hook_name: str, kind: str) -> Registry:
        """The registry filled by every plugin's ``hook_name(register)``, built once and cached.

        Works for the core's hooks and for hooks a plugin declares through ``add_hookspecs``.
        """
        if hook_name not in self._registries:
            registry: Registry = Registry(kind)
            for impl in self._impls(hook_name, f"{kind}s"):
                def register(value: Any, _plugin: str = impl.plugin_name) -> None:
                    registry.add(value, _plugin)

                if failure := self._call_impl(impl, hook_name, {"register": register}):
                    registry.failures[impl.plugin_name] = failure
            registry.failures.update({i.name: i.errors[0] for i in self.plugins.values()
                                      if i.status == "failed" and i.errors})  # never loaded: any name may be theirs
            self._registries[hook_name] = registry
            for name, plugins in registry.conflicts.items():
                warnings.warn(f"{kind} {name!r} is registered by both {' and '.join(plugins)}; "
                              "using it is an error until one is uninstalled", PluginWarning, stacklevel=2)
        return self._registries[hook_name]

    def _impls(self, hook_name: str, needed_for: str) -> list[pluggy.HookImpl]:
        """The implementations of a declared hook, in plugin registration order."""
        self.check_pending()
        caller = getattr(self.pm.hook, hook_name, None)
        if caller is None or caller.spec is None:
            raise PluginError(f"No loaded plugin declares the hook {hook_name!r} (needed for {needed_for}).")
        return caller.get_hookimpls()

    def _call_impl(self, impl: pluggy.HookImpl, hook_name: str, kwargs: dict[str, Any]) -> str:
        """Call one plugin's hook; returns "" or, when it raised, the message it was recorded with."""
        if self.trace:
            print(f"[gentoolkit trace] {impl.plugin_name}.{hook_name}({', '.join(impl.argnames)})", file=sys.stderr)
        try:
            impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        except Exception as err:  # one plugin's broken hook must not take the others down
            info = self.plugins.setdefault(impl.plugin_name, PluginInfo(impl.plugin_name))
            message = f"{hook_name} raised {type(err).__name__}: {err}"
            info.errors.append(message)
            info.status = "error" if info.status == "loaded" else info.status
            warnings.warn(f"plugin {info.name!r}: {message}", PluginWarning, stacklevel=2)
            if self.trace:
                traceback.print_exc(file=sys.stderr)
            return message
        return ""

    def fill_registries(self) -> None:
        """Call every contribution hook, the core's and those plugins declared (``register_<kind>s(register)``),
        so a plugin whose hook raises shows in listings, not only when one of its names is looked up."""
        self.check_pending()
        for hook_name in dir(self.pm.hook):
            spec = getattr(getattr(self.pm.hook, hook_name), "spec", None)
            if spec is not None and hook_name.startswith("register_") and tuple(spec.argnames) == ("register",):
                self.contributions(hook_name, hook_name.removeprefix("register_").removesuffix("s").replace("_", " "))

    def registry(self, what: str) -> Registry:
        """One of the core registries: ``models``, ``datasets``, ``evaluators`` or ``tasks``."""
        hook_name, kind = CORE_REGISTRIES[what]
        return self.contributions(hook_name, kind)

    def problems(self) -> list[str]:
        """One line per failed plugin, hook error or name conflict, for warnings."""
        lines = [f"plugin {i.name!r}: {e}" for i in self.plugins.values() for e in i.errors]
        for registry in self._registries.values():
            lines += [f"{registry.kind} {n!r} is registered by both {' and '.join(p)}"
                      for n, p in registry.conflicts.items()]
        return lines


def _entry_point_of(plugin: Any) -> metadata.EntryPoint | None:
    """The ``gentoolkit`` entry point that names ``plugin`` (a module, or an attribute of an imported
    module), if any; nothing is imported to find out."""
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        module = sys.modules.get(ep.module)
        if module is not None and (module if ep.attr is None else getattr(module, ep.attr, None)) is plugin:
            return ep
    return None


def _wanted_plugins() -> set[str] | None:
    """The names in GENTOOLKIT_LOAD_PLUGINS, or None when it is unset (load everything)."""
    value = os.environ.get(LOAD_ENV)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def load_plugins(plugins: Iterable[Any] = (), entrypoints: bool = True) -> PluginHost:
    """A fresh host with the given plugin objects and, unless told otherwise, the entry points."""
    host = PluginHost()
    if entrypoints:
        host.load_entrypoints()
    for plugin in plugins:
        host.register(plugin)
    return host
