"""Bad input and interruptions through the real entry point: one clear paragraph, the right exit code.

Each test calls ``gentoolkit.cli.main`` in-process (the ``cli`` fixture of conftest.py), on a host
holding only the test's plugins, and checks the exit code and that no traceback reaches the user.
"""

from __future__ import annotations

import json

import pytest
import typer

from gentoolkit import GentoolkitError, RunResult, Task, hookimpl
from gentoolkit.hookspecs import hookspec


class Tasks:
    """Tasks that succeed, fail, get interrupted after a checkpoint, or break the contract."""

    @hookimpl
    def register_tasks(self, register):
        def ok(runtime, config):
            return RunResult("ok", runtime.out_dir, metrics={"loss": 0.5, "steps": config["steps"]})

        def interrupted(runtime, config):
            runtime.save_checkpoint("state", {"step": 3})
            raise KeyboardInterrupt

        def crashes(runtime, config):
            raise ZeroDivisionError("division by zero in [rl] step")

        def brackets(runtime, config):
            if config["fail"]:
                raise GentoolkitError("[rl] batch_size must be >= 1; [/Na]C is not a SMILES")
            runtime.log("scored [nH]1cccc1 and [/Na]C")
            return RunResult("brackets", runtime.out_dir, metrics={"[b]bold[/b]": 1.0})

        register(Task("ok", ok, {"steps": 2, "lr": 0.1}))
        register(Task("interrupted", interrupted))
        register(Task("crashes", crashes))
        register(Task("brackets", brackets, {"fail": False}))
        register(Task("returns-none", lambda runtime, config: None))

    @hookimpl
    def register_commands(self, cli):
        @cli.group("train").command("exits")
        def exits(code: int = 3) -> None:
            raise typer.Exit(code)


@pytest.mark.parametrize("args, message", [
    (["run", "ok", "--seed", "abc"], "Invalid value for '--seed'"),
    (["no-such-command"], "No such command 'no-such-command'"),
    (["run", "ok", "--no-such-option"], "No such option: --no-such-option"),
    (["run"], "Missing argument"),
    (["train", "text"], "No such command 'text'"),  # a disabled plugin's command
])
def test_usage_errors_exit_2_without_traceback(cli, args, message):
    code, _, err = cli(*args, plugins=(Tasks(),))
    assert code == 2 and message in err and "Traceback" not in err


def test_a_disabled_plugins_command_names_the_plugin(cli):
    code, _, err = cli("train", "text", plugins=(Tasks(),), skipped=("text",))
    assert code == 2 and "Plugins not loaded: text (skipped by GENTOOLKIT_LOAD_PLUGINS)" in err


def test_exit_codes_of_plugin_commands_are_kept(cli):
    assert cli("train", "exits", "--code", "3", plugins=(Tasks(),))[0] == 3
    assert cli("train", "exits", "--code", "0", plugins=(Tasks(),))[0] == 0


def test_ctrl_c_exits_130_and_says_which_checkpoint_was_kept(cli, tmp_path):
    out = tmp_path / "run"
    code, _, err = cli("run", "interrupted", "--out", str(out), plugins=(Tasks(),))
    assert code == 130 and "Traceback" not in err
    assert f"Interrupted; checkpoint at {out / 'state.json'}; resume with the same --out {out}" in " ".join(err.split())
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "interrupted" and record["checkpoint"] == str(out / "state.json")
    assert (out / "state.json").exists() and (out / "state.safetensors").exists()


def test_unexpected_errors_exit_1_and_debug_shows_the_traceback(cli, monkeypatch, tmp_path):
    code, _, err = cli("run", "crashes", "--out", str(tmp_path / "a"), plugins=(Tasks(),))
    assert code == 1 and "Traceback" not in err
    assert "ZeroDivisionError: division by zero in [rl] step" in err and "--debug" in err  # brackets kept
    code, _, err = cli("--debug", "run", "crashes", "--out", str(tmp_path / "b"),
                       plugins=(Tasks(),))
    assert code == 1 and "Traceback" in err
    monkeypatch.setenv("GENTOOLKIT_DEBUG", "1")
    code, _, err = cli("run", "crashes", "--out", str(tmp_path / "c"), plugins=(Tasks(),))
    assert code == 1 and "Traceback" in err


def test_user_text_with_brackets_is_printed_as_it_is(cli, tmp_path):
    code, out, err = cli("run", "brackets", "--out", str(tmp_path / "a"), plugins=(Tasks(),))
    assert code == 0 and "scored [nH]1cccc1 and [/Na]C" in err and "[b]bold[/b]" in out
    code, _, err = cli("run", "brackets", "--out", str(tmp_path / "b"), "--set", "fail=true", plugins=(Tasks(),))
    assert code == 2 and "[rl] batch_size must be >= 1; [/Na]C is not a SMILES" in " ".join(err.split())


def test_a_task_returning_none_is_named(cli, tmp_path):
    code, _, err = cli("run", "returns-none", "--out", str(tmp_path), plugins=(Tasks(),))
    assert code == 2 and "Task 'returns-none' (plugin tasks) returned NoneType, not a gentoolkit.RunResult" in err


@pytest.mark.parametrize("flags, message", [
    (["--device", "tpu"], "Unknown device 'tpu'"),
    (["--threads", "-1"], "--threads -1: give a positive number"),
    (["--threads", "0"], "--threads 0: give a positive number of CPU threads, or leave it out"),
    (["--seed", "-3"], "--seed -3: a seed is a whole number"),
])
def test_runtime_setup_errors_are_one_paragraph(cli, tmp_path, flags, message):
    code, _, err = cli("run", "ok", "--out", str(tmp_path / "run"), *flags, plugins=(Tasks(),))
    assert code == 2 and message in " ".join(err.split()) and "Traceback" not in err
    assert not (tmp_path / "run").exists(), "nothing is written for a run that cannot start"


def test_out_naming_a_file_or_an_unwritable_folder(cli, monkeypatch, tmp_path):
    file = tmp_path / "notes.txt"
    file.write_text("keep me")
    code, _, err = cli("run", "ok", "--out", str(file), plugins=(Tasks(),))
    assert code == 2 and "is an existing file, not a folder" in " ".join(err.split())
    assert file.read_text() == "keep me"

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.TemporaryFile", read_only)  # what a read-only folder does, even for root
    code, _, err = cli("run", "ok", "--out", str(tmp_path / "ro"), plugins=(Tasks(),))
    assert code == 2 and "Cannot write the run folder" in err and "Permission denied" in err


class BrokenModels:
    @hookimpl
    def register_models(self, register):
        raise RuntimeError("boom [x]")


class Misspelt:
    @hookimpl
    def register_model(self, register):  # the hook is register_models
        raise AssertionError("never called")

    @hookimpl
    def register_tasks(self, register):
        register(Task("misspelt-task", lambda runtime, config: None))


def test_a_hook_that_raises_is_warned_about_in_listings_and_json_agrees_with_the_table(cli):
    code, _, err = cli("models", plugins=(BrokenModels(), Tasks()))
    assert code == 0 and "warning: plugin 'brokenmodels': register_models raised RuntimeError: boom [x]" in err
    code, out, _ = cli("plugins", "--json", plugins=(BrokenModels(), Tasks()))
    info = {p["name"]: p for p in json.loads(out)}
    assert info["brokenmodels"]["status"] == "error" and info["tasks"]["status"] == "loaded"
    code, out, _ = cli("plugins", plugins=(BrokenModels(), Tasks()))
    assert "error: register_models raised RuntimeError: boom [x]" in out


class WidgetSpecs:
    """A hook a plugin declares for other plugins, as the molecules plugin declares register_scoring_components."""

    @hookspec
    def register_widgets(self, register):
        """Contribute widgets."""


class DeclaresWidgets:
    @hookimpl
    def add_hookspecs(self, pluginmanager):
        pluginmanager.add_hookspecs(WidgetSpecs)

    @hookimpl
    def register_widgets(self, register):
        register(Task("gear", lambda runtime, config: None))  # anything with a name


class BrokenWidgets:
    @hookimpl
    def register_widgets(self, register):
        raise RuntimeError("no widgets today")


def test_a_plugin_declared_hook_that_raises_is_not_listed_as_loaded(cli):
    code, out, _ = cli("plugins", "--json", plugins=(DeclaresWidgets(), BrokenWidgets()))
    info = {p["name"]: p for p in json.loads(out)}
    assert code == 0 and info["declareswidgets"]["status"] == "loaded"
    assert info["brokenwidgets"]["status"] == "error"
    assert info["brokenwidgets"]["errors"] == ["register_widgets raised RuntimeError: no widgets today"]


def test_looking_up_a_missing_name_names_the_plugin_whose_hook_raised():
    from gentoolkit.api import Toolkit
    from gentoolkit.errors import PluginWarning, UnknownNameError

    kit = Toolkit(plugins=[DeclaresWidgets(), BrokenWidgets()], entrypoints=False)
    with pytest.warns(PluginWarning):
        widgets = kit.contributions("register_widgets", "widget")
    assert widgets["gear"].name == "gear"
    with pytest.raises(UnknownNameError, match="Unknown widget 'sprocket'.*Plugin 'BrokenWidgets' may provide it "
                                               "but failed: register_widgets raised RuntimeError: no widgets today"):
        widgets["sprocket"]


def test_python_toolkit_warns_about_a_broken_plugin():
    from gentoolkit.api import Toolkit
    from gentoolkit.errors import PluginWarning

    kit = Toolkit(plugins=[BrokenModels()], entrypoints=False)
    with pytest.warns(PluginWarning, match="register_models raised RuntimeError: boom"):
        kit.models


def test_an_unknown_hook_implementation_fails_its_plugin_with_a_suggestion(cli):
    from gentoolkit.api import Toolkit
    from gentoolkit.errors import PluginWarning

    kit = Toolkit(plugins=[Misspelt(), Tasks()], entrypoints=False)
    with pytest.warns(PluginWarning, match="unknown hook.*'register_model' \\(did you mean 'register_models'\\?\\)"):
        names = kit.tasks.names()
    assert "misspelt-task" not in names and "ok" in names
    info = kit.host.plugins["Misspelt"]
    assert info.status == "failed" and "register_model" in info.errors[0]


SLOW_TASK = '''
import sys, time
from gentoolkit import RunResult, Task, hookimpl, api
from gentoolkit.cli import main
from gentoolkit.plugins import PluginHost

class Slow:
    @hookimpl
    def register_tasks(self, register):
        def slow(runtime, config):
            with runtime.progress(1000, "training") as advance:
                for step in range(1000):
                    runtime.save_checkpoint("state", {"step": step})
                    advance(loss=1.0 / (step + 1))
                    time.sleep(0.05)
            return RunResult("slow", runtime.out_dir)
        register(Task("slow", slow))

host = PluginHost()
host.register(Slow(), name="slow")
api.load_plugins = lambda *a, **k: host
sys.argv = ["gentoolkit", "run", "slow", "--out", sys.argv[1]]
main()
'''


def test_a_real_sigint_exits_130_and_keeps_the_checkpoint(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    # a shell's background job (`cmd &`, as under nohup in CI) starts with SIGINT ignored, and children inherit
    # that: give the run the disposition a terminal user's would have
    process = subprocess.Popen([sys.executable, "-c", SLOW_TASK, str(out)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**__import__("os").environ, "COLUMNS": "300"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while not (out / "state.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in err, err
    assert f"Interrupted; checkpoint at {out / 'state.json'}; resume with the same --out {out}" in err
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
