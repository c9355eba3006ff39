"""The command line: fast help without torch, listings, runs, and real plugin install with pip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gentoolkit import GentoolkitError, hookimpl
from gentoolkit import cli as cli_module
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
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'rdkit', 'transformers', 'tensorboard', 'mlflow')))")
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
def test_the_catalog_ships_in_the_wheel_and_reads_without_a_repository(tmp_path):
    source = tmp_path / "src"  # the core alone, as a non-editable install would see it
    shutil.copytree(ROOT / "gentoolkit", source / "gentoolkit", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    with zipfile.ZipFile(next((tmp_path / "dist").glob("gentoolkit-*.whl"))) as wheel:
        wheel.extractall(tmp_path / "site")
    probe = ("import gentoolkit; from gentoolkit.catalog import read_catalog; c = read_catalog(); "
             "print(gentoolkit.__file__); print(sorted(c), [e.path.is_dir() for e in c.values()])")
    env = {k: v for k, v in os.environ.items() if k != "GENTOOLKIT_REGISTRY"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**env, "PYTHONPATH": str(tmp_path / "site")})
    assert done.returncode == 0, done.stderr
    where, found = done.stdout.splitlines()
    assert where.startswith(str(tmp_path / "site"))
    assert found == "['audio', 'image', 'molecules', 'text'] [False, False, False, False]"  # no plugins/ beside it
    assert (ROOT / "registry.toml").read_text() == (ROOT / "gentoolkit" / "registry.toml").read_text()


@pytest.fixture
def pip_calls(monkeypatch):
    """Every pip call `plugins install` makes, with the requirements file it names, instead of running pip."""
    calls = []

    def fake_pip(args):
        files = [Path(args[i + 1]).read_text() for i, a in enumerate(args) if a == "-r"]
        calls.append((args, files))

    monkeypatch.setattr(cli_module, "_pip", fake_pip)
    return calls


def _install(*args):
    return CliRunner().invoke(make_app(PluginHost()), ["plugins", "install", *args])


def test_a_builtin_without_its_folder_is_never_installed_by_bare_name(tmp_path, monkeypatch, pip_calls):
    from gentoolkit.catalog import read_catalog

    assert read_catalog()["molecules"].path == ROOT / "plugins" / "molecules"  # the package's own catalog
    assert _install("molecules").exit_code == 0
    assert pip_calls == [(["install", str(ROOT / "plugins" / "molecules")], [])]

    catalog = tmp_path / "registry.toml"  # the shipped catalog, with no plugins/ folder beside it
    catalog.write_text((ROOT / "gentoolkit" / "registry.toml").read_text())
    monkeypatch.setenv("GENTOOLKIT_REGISTRY", str(catalog))
    pip_calls.clear()
    refused = _install("molecules")
    assert isinstance(refused.exception, GentoolkitError) and pip_calls == []
    assert "never installed by bare name from a package index" in str(refused.exception)
    assert "gentoolkit plugins install /path/to/gentoolkit/plugins/molecules" in str(refused.exception)


def test_a_builtin_installs_from_a_hash_pinned_requirement_and_bare_ones_are_refused(tmp_path, monkeypatch,
                                                                                     pip_calls):
    from gentoolkit.catalog import read_catalog

    catalog = tmp_path / "registry.toml"
    monkeypatch.setenv("GENTOOLKIT_REGISTRY", str(catalog))
    pinned = "gentoolkit-molecules==0.1.0 --hash=sha256:" + "ab" * 32
    catalog.write_text(f"[plugins.molecules]\nsummary = 's'\ndomain = 'd'\nbuiltin = true\n"
                       f"path = 'plugins/molecules'\nrequirement = '{pinned}'\n")
    assert _install("molecules").exit_code == 0
    assert len(pip_calls) == 1 and pip_calls[0][0][:3] == ["install", "--require-hashes", "-r"]
    assert pip_calls[0][1] == [pinned + "\n"]

    catalog.write_text("[plugins.molecules]\nsummary = 's'\ndomain = 'd'\nbuiltin = true\n"
                       "path = 'plugins/molecules'\nrequirement = 'gentoolkit-molecules'\n")
    with pytest.raises(GentoolkitError, match="requirement 'gentoolkit-molecules' is not pinned with a hash"):
        read_catalog()


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
