"""Hook contracts, the registry, plugin-declared hooks and broken-plugin isolation."""

from __future__ import annotations

import inspect
import json
import types
from importlib import metadata

import pytest

from gentoolkit import Dataset, Evaluator, Model, PluginError, RunResult, Task, UnknownNameError, hookimpl, hookspec
from gentoolkit import hookspecs
from gentoolkit.api import Toolkit
from gentoolkit.errors import PluginWarning
from gentoolkit.plugins import PluginHost


def test_every_hookspec_is_documented_and_empty():
    specs = [f for name, f in vars(hookspecs).items()
             if inspect.isfunction(f) and hasattr(f, "gentoolkit_spec")]
    assert {f.__name__ for f in specs} >= {"add_hookspecs", "register_models", "register_datasets",
                                           "register_evaluators", "register_tasks", "register_commands"}
    for spec in specs:
        doc = inspect.getdoc(spec)
        assert doc and len(doc.splitlines()) >= 2, f"{spec.__name__} needs a docstring saying who calls it"


class Contributor:
    @hookimpl
    def register_models(self, register):
        register(Model("toy-model", lambda scale=1: {"scale": scale}, "a toy", "toys"))

    @hookimpl
    def register_datasets(self, register):
        register(Dataset("toy-data", lambda n=3: list(range(n)), "numbers"))

    @hookimpl
    def register_evaluators(self, register):
        register(Evaluator("mean", lambda xs: {"mean": sum(xs) / len(xs)}, "arithmetic mean"))

    @hookimpl
    def register_tasks(self, register):
        def run(runtime, config):
            return RunResult("toy", runtime.out_dir, metrics={"n": config["n"]})

        register(Task("toy", run, {"n": 1, "inner": {"k": 2.0}}, "count"))


def test_contributions_are_registered_with_their_plugin():
    kit = Toolkit(plugins=[Contributor()], entrypoints=False)
    assert kit.models.entry("toy-model").plugin.endswith("Contributor") or kit.models.entry("toy-model").plugin
    assert kit.create_model("toy-model", scale=3) == {"scale": 3}
    assert kit.load_dataset("toy-data", n=4) == [0, 1, 2, 3]
    assert kit.evaluate("mean", [1, 2, 3]) == {"mean": 2.0}
    assert kit.tasks.names() == ["toy"]


def test_unknown_name_suggests_close_ones():
    kit = Toolkit(plugins=[Contributor()], entrypoints=False)
    with pytest.raises(UnknownNameError, match="Did you mean 'toy-model'"):
        kit.create_model("toy-modle")


def test_a_name_claimed_by_two_plugins_is_an_error_naming_both():
    host = PluginHost()
    host.register(Contributor(), name="first")
    host.register(Contributor(), name="second")
    with pytest.warns(PluginWarning, match="'toy-model' is registered by both first and second"):
        models = host.registry("models")
    with pytest.raises(PluginError, match="both 'first' and 'second'"):
        models["toy-model"]
    assert any("toy-model" in line and "first" in line for line in host.problems())


class Broken:
    @hookimpl
    def register_models(self, register):
        raise RuntimeError("boom")


def test_a_plugin_whose_hook_raises_is_reported_and_the_rest_keep_working():
    host = PluginHost()
    host.register(Broken(), name="broken")
    host.register(Contributor(), name="good")
    with pytest.warns(PluginWarning, match="plugin 'broken': register_models raised RuntimeError: boom"):
        assert host.registry("models").names() == ["toy-model"]
    assert host.plugins["broken"].errors == ["register_models raised RuntimeError: boom"]


class Declarer:
    """Declares a new hook, as the molecules plugin declares scoring components."""

    class Specs:
        @hookspec
        def register_widgets(self, register):
            """Contribute widgets."""

    @hookimpl
    def add_hookspecs(self, pluginmanager):
        pluginmanager.add_hookspecs(self.Specs)


class WidgetMaker:
    @hookimpl
    def register_widgets(self, register):
        register(types.SimpleNamespace(name="gear", description="a gear"))


@pytest.mark.parametrize("order", [("declarer", "maker"), ("maker", "declarer")])
def test_a_plugin_declares_a_hook_another_implements(order):
    host = PluginHost()
    plugins = {"declarer": Declarer(), "maker": WidgetMaker()}
    for name in order:  # the implementer may load before the declarer
        host.register(plugins[name], name=name)
    widgets = host.contributions("register_widgets", "widget")
    assert widgets.names() == ["gear"]
    assert widgets.entry("gear").plugin == "maker"


def test_contributions_of_an_undeclared_hook_is_a_clear_error():
    with pytest.raises(PluginError, match="register_gizmos"):
        PluginHost().contributions("register_gizmos", "gizmo")


def _fake_entry_points(monkeypatch, module_names: dict[str, str]):
    eps = [metadata.EntryPoint(name=name, value=value, group="gentoolkit") for name, value in module_names.items()]
    monkeypatch.setattr("gentoolkit.plugins.metadata.entry_points", lambda group: eps)


def test_entry_point_plugins_load_and_a_broken_import_is_isolated(monkeypatch, tmp_path):
    (tmp_path / "good_plugin_mod.py").write_text(
        "from gentoolkit import hookimpl, Model\n"
        "@hookimpl\ndef register_models(register):\n    register(Model('ep-model', dict))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _fake_entry_points(monkeypatch, {"good": "good_plugin_mod", "broken": "no_such_module_anywhere"})
    with pytest.warns(PluginWarning, match="plugin 'broken': import failed"):
        host = PluginHost().load_entrypoints()
    assert host.plugins["good"].status == "loaded"
    assert host.plugins["good"].hooks == ["register_models"]
    assert host.plugins["broken"].status == "failed"
    assert "no_such_module_anywhere" in host.plugins["broken"].errors[0]
    assert host.registry("models").names() == ["ep-model"]


@pytest.mark.parametrize("value, loaded", [("good", {"good"}), ("", set()), (" good , other ", {"good", "other"})])
def test_load_plugins_env_restricts_what_loads(monkeypatch, tmp_path, value, loaded):
    (tmp_path / "good_plugin_mod2.py").write_text("x = 1\n")
    (tmp_path / "other_plugin_mod2.py").write_text("y = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _fake_entry_points(monkeypatch, {"good": "good_plugin_mod2", "other": "other_plugin_mod2"})
    monkeypatch.setenv("GENTOOLKIT_LOAD_PLUGINS", value)
    host = PluginHost().load_entrypoints()
    assert {n for n, i in host.plugins.items() if i.status == "loaded"} == loaded
    assert {n for n, i in host.plugins.items() if i.status == "skipped"} == {"good", "other"} - loaded


def test_trace_prints_hook_calls(monkeypatch, capsys):
    monkeypatch.setenv("GENTOOLKIT_TRACE_PLUGINS", "1")
    host = PluginHost()
    host.register(Contributor(), name="traced")
    host.registry("models")
    assert "traced.register_models(register)" in capsys.readouterr().err


class Marker:
    """Sees every generated file a task declares, as a provenance plugin would."""

    def __init__(self):
        self.seen = []

    @hookimpl
    def process_artifact(self, artifact, runtime):
        self.seen.append((artifact.path.name, artifact.kind, artifact.task))
        artifact.path.write_text(artifact.path.read_text() + "marked\n")  # rewritten in place
        return {"marked": True}


class Writer:
    @hookimpl
    def register_tasks(self, register):
        def run(runtime, config):
            path = runtime.out_dir / "poem.txt"
            path.write_text("roses\n")
            runtime.generated(path, "text", model="by-hand")
            return RunResult("writer", runtime.out_dir, outputs={"artifacts": runtime.artifacts})

        register(Task("writer", run, {}, "write a generated file"))


def test_generated_files_pass_through_every_process_artifact_hook(tmp_path):
    from gentoolkit import RuntimeOptions

    marker = Marker()
    kit = Toolkit(plugins=[Writer(), marker], entrypoints=False)
    result = kit.run("writer", options=RuntimeOptions(out=tmp_path, progress=False))
    assert marker.seen == [("poem.txt", "text", "writer")]
    assert (tmp_path / "poem.txt").read_text() == "roses\nmarked\n"
    [artifact] = result.outputs["artifacts"]
    assert artifact.metadata["model"] == "by-hand" and list(artifact.processed.values()) == [{"marked": True}]
    [recorded] = json.loads((tmp_path / "run.json").read_text())["generated"]
    assert recorded["file"] == str(tmp_path / "poem.txt") and list(recorded["processed"].values()) == [{"marked": True}]


def test_a_failing_process_artifact_hook_stops_the_run_naming_the_plugin(tmp_path):
    from gentoolkit import RuntimeOptions

    class BrokenMarker:
        @hookimpl
        def process_artifact(self, artifact, runtime):
            raise OSError("disk full")

    kit = Toolkit(plugins=[Writer(), BrokenMarker()], entrypoints=False)
    with pytest.raises(PluginError, match="BrokenMarker.*process_artifact.*disk full"):
        kit.run("writer", options=RuntimeOptions(out=tmp_path, progress=False))


def test_runtime_watermark_asks_the_generation_watermark_hook(tmp_path):
    from gentoolkit import RuntimeOptions

    class Watermarker:
        @hookimpl
        def generation_watermark(self, kind, runtime):
            return {"bias": 2.0} if kind == "text" else None

    class Asker:
        @hookimpl
        def register_tasks(self, register):
            def run(runtime, config):
                return RunResult("ask", runtime.out_dir, outputs={k: runtime.watermark(k) for k in ("text", "audio")})

            register(Task("ask", run, {}, "ask for watermarks"))

    asked = Toolkit(plugins=[Asker(), Watermarker()], entrypoints=False).run(
        "ask", options=RuntimeOptions(out=tmp_path, progress=False))
    assert asked.outputs == {"text": {"bias": 2.0}, "audio": None}
    alone = Toolkit(plugins=[Asker()], entrypoints=False).run("ask", options=RuntimeOptions(out=tmp_path, progress=False))
    assert alone.outputs == {"text": None, "audio": None}


def test_a_module_registered_by_hand_takes_its_entry_point_name(monkeypatch, tmp_path):
    """Pipelines and tests register installed plugins directly; saved models record the plugin's name,
    so it must be the entry point's (``image``), not the module's (``gentoolkit_image``)."""
    (tmp_path / "hand_plugin_mod.py").write_text(
        "from gentoolkit import hookimpl, Model\n"
        "@hookimpl\ndef register_models(register):\n    register(Model('hand-model', dict))\n"
        "class Obj:\n    @hookimpl\n    def register_models(self, register):\n        register(Model('obj-model', dict))\n"
        "plugin = Obj()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _fake_entry_points(monkeypatch, {"hand": "hand_plugin_mod", "obj": "hand_plugin_mod:plugin"})
    import hand_plugin_mod

    host = PluginHost()
    assert host.register(hand_plugin_mod).name == "hand"
    assert host.register(hand_plugin_mod.plugin).name == "obj"
    assert PluginHost().register(Contributor()).name == "Contributor"  # not installed: its own name, as before
    assert PluginHost().register(hand_plugin_mod, name="chosen").name == "chosen"  # an explicit name wins
    assert host.registry("models").entry("hand-model").plugin == "hand"
    assert host.registry("models").entry("obj-model").plugin == "obj"


def test_an_installed_plugin_registered_by_hand_saves_models_its_installed_name_loads(tmp_path):
    import gentoolkit_tabular

    from gentoolkit import Toolkit

    kit = Toolkit(plugins=[gentoolkit_tabular], entrypoints=False)
    assert "tabular" in kit.host.plugins and "gentoolkit_tabular" not in kit.host.plugins
    assert {kit.models.entry(name).plugin for name in kit.models.names()} == {"tabular"}
