"""Config files, --set overrides and validation errors that list the valid keys."""

from __future__ import annotations

import pytest

from gentoolkit import ConfigError, RunResult, Task, hookimpl
from gentoolkit.api import Toolkit
from gentoolkit.config import parse_override, read_toml, resolve
from gentoolkit.runtime import RuntimeOptions

DEFAULTS = {"steps": 10, "lr": 0.001, "name": "x", "fast": False,
            "model": {"hidden": 32, "layers": 2}, "extra": {}, "tags": []}


def test_overrides_parse_toml_literals_and_fall_back_to_strings():
    assert parse_override("model.hidden=64") == (["model", "hidden"], 64)
    assert parse_override("lr=1e-4") == (["lr"], 1e-4)
    assert parse_override("fast=true") == (["fast"], True)
    assert parse_override("name=hello world") == (["name"], "hello world")
    assert parse_override('tags=["a", "b"]') == (["tags"], ["a", "b"])
    with pytest.raises(ConfigError, match="key.path=value"):
        parse_override("no-equals-sign")


def test_file_then_overrides_merge_over_defaults(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("steps = 5\n[model]\nhidden = 16\n[extra]\nanything = 1\n")
    config = resolve(DEFAULTS, path, ["model.layers=4", "lr=1"])
    assert config["steps"] == 5 and config["model"] == {"hidden": 16, "layers": 4}
    assert config["lr"] == 1.0 and isinstance(config["lr"], float)
    assert config["extra"] == {"anything": 1}
    assert DEFAULTS["model"]["hidden"] == 32, "defaults must not be mutated"


def test_unknown_key_lists_valid_keys_and_suggests():
    with pytest.raises(ConfigError) as err:
        resolve(DEFAULTS, overrides=["model.hiden=3"])
    message = str(err.value)
    assert "'model.hiden'" in message and "Did you mean 'hidden'" in message
    assert "Valid keys under 'model': hidden, layers" in message


def test_wrong_types_are_named():
    with pytest.raises(ConfigError, match="'steps' must be int"):
        resolve(DEFAULTS, overrides=["steps=fast"])
    with pytest.raises(ConfigError, match="'fast' must be bool"):
        resolve(DEFAULTS, overrides=["fast=1"])
    with pytest.raises(ConfigError, match="'model' must be a table"):
        resolve(DEFAULTS, {"model": 3})


def test_bad_toml_file_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("steps = = 3\n")
    with pytest.raises(ConfigError, match="broken.toml is not valid TOML"):
        read_toml(path)
    with pytest.raises(ConfigError, match="does not exist"):
        read_toml(tmp_path / "missing.toml")


class Echo:
    @hookimpl
    def register_tasks(self, register):
        register(Task("echo", lambda rt, cfg: RunResult("echo", rt.out_dir, outputs={"config": cfg}), DEFAULTS))


def test_run_saves_the_effective_config_and_rejects_bad_keys_before_work(tmp_path):
    kit = Toolkit(plugins=[Echo()], entrypoints=False)
    result = kit.run("echo", overrides=["steps=3"], options=RuntimeOptions(out=tmp_path / "run", progress=False))
    assert result.outputs["config"]["steps"] == 3
    saved = read_toml(tmp_path / "run" / "config.toml")
    assert saved["steps"] == 3 and saved["model"] == {"hidden": 32, "layers": 2}
    with pytest.raises(ConfigError):
        kit.run("echo", overrides=["stpes=3"], options=RuntimeOptions(out=tmp_path / "never", progress=False))
    assert not (tmp_path / "never").exists()
