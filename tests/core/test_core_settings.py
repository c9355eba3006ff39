"""Plugin settings tables: a plugin declares ``[name]`` with defaults, every task's run takes it."""

from __future__ import annotations

import tomllib

import pytest

from gentoolkit import Toolkit, hookimpl
from gentoolkit.contributions import RunResult, Settings, Task
from gentoolkit.errors import ConfigError
from gentoolkit.runtime import Runtime, RuntimeOptions


class Stamper:
    """A plugin with a settings table (one secret key) and a check that refuses a bad setup."""

    def __init__(self):
        self.checked = []

    @hookimpl
    def register_settings(self, register):
        def check(table):
            self.checked.append(table)
            if table["strength"] > 5:
                raise ConfigError("stamper.strength above 5 burns the paper; lower it.")

        register(Settings("stamper", {"enabled": True, "strength": 1.5, "secret": "public"},
                          ranges={"strength": "> 0"}, secret=("secret",), check=check))


class Echo:
    """A task from another plugin that knows nothing of the stamper: it reports what its run carries."""

    @hookimpl
    def register_tasks(self, register):
        def run(runtime, config):
            return RunResult("echo", runtime.out_dir, outputs={"stamper": runtime.settings("stamper")})

        register(Task("echo", run, config={"steps": 1}))


def _options(path):
    return RuntimeOptions(device="cpu", out=path, progress=False, threads=1)


@pytest.fixture
def kit():
    stamper = Stamper()
    return Toolkit(plugins=[stamper, Echo()], entrypoints=False), stamper


def test_every_task_takes_a_plugins_settings_table_and_hands_it_to_the_plugin(kit, tmp_path):
    kit, stamper = kit
    result = kit.run("echo", overrides=["stamper.enabled=false", "stamper.secret=hunter2"], options=_options(tmp_path))
    assert result.outputs["stamper"] == {"enabled": False, "strength": 1.5, "secret": "hunter2"}
    assert stamper.checked == [result.outputs["stamper"]]  # checked before the task ran
    saved = tomllib.loads((tmp_path / "config.toml").read_text())
    assert saved["stamper"] == {"enabled": False, "strength": 1.5}  # the secret is never saved
    assert "secret" not in kit.public(kit.config("echo"))["stamper"]


def test_a_config_files_table_is_validated_like_the_tasks_own(kit, tmp_path):
    kit, _ = kit
    config = tmp_path / "run.toml"
    config.write_text("steps = 2\n[stamper]\nstrength = 3\n")
    assert kit.config("echo", config)["stamper"]["strength"] == 3.0
    with pytest.raises(ConfigError, match="Did you mean 'enabled'"):
        kit.config("echo", overrides=["stamper.enable=false"])
    with pytest.raises(ConfigError, match="'stamper.enabled' must be bool"):
        kit.config("echo", overrides=["stamper.enabled=3"])
    with pytest.raises(ConfigError, match="'stamper.strength' must be > 0"):
        kit.config("echo", overrides=["stamper.strength=-1"])


def test_a_failing_check_stops_the_run_before_any_work(kit, tmp_path):
    kit, _ = kit
    with pytest.raises(ConfigError, match="burns the paper"):
        kit.run("echo", overrides=["stamper.strength=9"], options=_options(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_a_runtime_made_outside_a_run_gets_the_defaults(kit):
    kit, _ = kit
    runtime = Runtime(RuntimeOptions(device="cpu"), toolkit=kit)
    assert runtime.settings("stamper") == {"enabled": True, "strength": 1.5, "secret": "public"}
    assert runtime.settings("nobody") == {}
