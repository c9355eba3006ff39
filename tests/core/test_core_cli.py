"""The command line: fast help without torch, listings, runs, and real plugin install with pip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gentoolkit import hookimpl
from gentoolkit.cli import make_app
from gentoolkit.plugins import PluginHost

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "sample_plugin"


def gentoolkit(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "gentoolkit", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=600)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_help_and_plugin_listing_do_not_import_torch():
    probe = ("import sys; from gentoolkit.cli import make_app; from typer.testing import CliRunner; "
             "app = make_app(); r1 = CliRunner().invoke(app, ['--help']); r2 = CliRunner().invoke(app, ['plugins']); "
             "assert r1.exit_code == 0 and r2.exit_code == 0, (r1.output, r2.output); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'rdkit', 'transformers')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


class Greeter:
    @hookimpl
    def register_commands(self, cli):
        @cli.group("generate").command("greeting")
        def greeting(name: str = "world") -> None:
            """Print a greeting."""
            print(f"hello {name}")


def test_a_plugin_adds_commands_under_a_shared_verb_group():
    host = PluginHost()
    host.register(Greeter(), name="greeter")
    result = CliRunner().invoke(make_app(host), ["generate", "greeting", "--name", "you"])
    assert result.exit_code == 0 and result.output.strip() == "hello you"
    assert "greeting" in CliRunner().invoke(make_app(host), ["generate", "--help"]).output


def test_python_m_gentoolkit_help_lists_commands():
    out = gentoolkit("--help").stdout
    for command in ("run", "plugins", "models", "datasets", "evaluators", "tasks"):
        assert command in out


def test_unknown_task_is_one_clear_line_with_suggestions():
    done = gentoolkit("run", "no-such-task", check=False)
    assert done.returncode == 2
    assert "Unknown task 'no-such-task'" in done.stderr and "Traceback" not in done.stderr


def test_catalog_lists_the_builtin_plugins():
    out = gentoolkit("plugins", "available").stdout
    for name in ("molecules", "image", "text"):
        assert name in out


def test_catalog_is_validated(tmp_path):
    bad = tmp_path / "registry.toml"
    bad.write_text("[plugins.x]\nsummary = 's'\ndomain = 'd'\nrequirment = 'x'\n")
    done = gentoolkit("plugins", "available", env={"GENTOOLKIT_REGISTRY": str(bad)}, check=False)
    assert done.returncode == 2 and "unknown keys ['requirment']" in done.stderr


@pytest.mark.slow
def test_install_a_plugin_by_path_then_its_model_and_task_work(tmp_path):
    gentoolkit("plugins", "install", str(SAMPLE), "--no-deps", "--no-build-isolation")
    try:
        plugins = json.loads(gentoolkit("plugins", "--json").stdout)
        sample = next(p for p in plugins if p["name"] == "sample")
        assert sample["status"] == "loaded" and sample["version"] == "0.0.1"
        assert sample["hooks"] == ["register_models", "register_tasks"]
        models = json.loads(gentoolkit("models", "--json").stdout)
        assert {"name": "sample-gaussian", "plugin": "sample"}.items() <= next(
            m for m in models if m["name"] == "sample-gaussian").items()
        out = gentoolkit("run", "sample-fit", "--set", "steps=300", "--out", str(tmp_path / "run"),
                         "--no-progress").stdout
        assert "nll" in out and (tmp_path / "run" / "config.toml").read_text().count("steps = 300") == 1
        only = gentoolkit("plugins", "--json", env={"GENTOOLKIT_LOAD_PLUGINS": "sample"}).stdout
        assert {p["name"]: p["status"] for p in json.loads(only)}["sample"] == "loaded"
        assert all(p["status"] == "skipped" for p in json.loads(only) if p["name"] != "sample")
    finally:
        gentoolkit("plugins", "uninstall", "sample")
    assert "sample-gaussian" not in gentoolkit("models").stdout
