"""Fixtures shared by the core tests."""

from __future__ import annotations

import sys
from typing import Callable

import pytest

from gentoolkit import api
from gentoolkit import plugins as plugins_module
from gentoolkit.cli import main
from gentoolkit.plugins import PluginHost


@pytest.fixture
def cli(monkeypatch, capsys) -> Callable[..., tuple[int, str, str]]:
    """``cli(*args, plugins=(...))`` runs ``gentoolkit ARGS`` through ``main()`` on a host of only
    those plugins (``skipped`` names plugins GENTOOLKIT_LOAD_PLUGINS left out) and returns
    (exit code, stdout, stderr)."""
    monkeypatch.setenv("COLUMNS", "400")

    def run(*args: str, plugins: tuple = (), skipped: tuple = ()) -> tuple[int, str, str]:
        host = PluginHost()
        for plugin in plugins:
            host.register(plugin, name=type(plugin).__name__.lower())
        for name in skipped:
            host.plugins[name] = plugins_module.PluginInfo(name, "0.1", status="skipped")
        monkeypatch.setattr(api, "load_plugins", lambda *a, **k: host)
        monkeypatch.setattr(sys, "argv", ["gentoolkit", *args])
        with pytest.raises(SystemExit) as exit_:
            main()
        out, err = capsys.readouterr()
        return exit_.value.code, out, err

    return run
