"""The ``gentoolkit`` command line (Typer). Plugins add commands through ``register_commands``.

Nothing here imports torch: runs import it when they start, so ``--help`` and listings are fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gentoolkit.errors import GentoolkitError, UnknownNameError

if TYPE_CHECKING:
    from gentoolkit.api import Toolkit
    from gentoolkit.plugins import PluginHost
    from gentoolkit.runtime import RuntimeOptions

__all__ = ["Commands", "runtime_options", "print_result", "make_app", "main"]

console = Console()
err_console = Console(stderr=True)
_python_show_warning = warnings.showwarning


class Commands:
    """What ``register_commands`` receives: the root app, its shared verb groups, and the CLI's
    toolkit and helpers, so a plugin's command reuses them instead of building its own."""

    def __init__(self, app: typer.Typer, toolkit: Toolkit | None = None):
        self.app = app
        self._toolkit = toolkit
        self._groups: dict[str, typer.Typer] = {}

    @property
    def toolkit(self) -> Toolkit:
        """The toolkit this command line runs on (plugins loaded once, problems warned about)."""
        if self._toolkit is None:
            from gentoolkit.api import Toolkit

            self._toolkit = Toolkit()  # broken plugins are reported as found, through PluginWarning
        return self._toolkit

    def group(self, verb: str, help: str | None = None) -> typer.Typer:
        """The sub-app for ``gentoolkit VERB ...`` (``train``, ``generate``, ...), made on first use."""
        if verb not in self._groups:
            self._groups[verb] = typer.Typer(help=help or f"{verb.capitalize()} with a domain plugin.",
                                             no_args_is_help=True)
            self.app.add_typer(self._groups[verb], name=verb)
        return self._groups[verb]

    @staticmethod
    def runtime_options(*args: Any, **kwargs: Any) -> RuntimeOptions:
        """RuntimeOptions from a command's --device/--precision/--seed/... flags."""
        return runtime_options(*args, **kwargs)

    @staticmethod
    def print_result(result: Any) -> None:
        """Print a run's metrics table and its folder, as ``gentoolkit run`` does."""
        print_result(result)


_commands: Commands | None = None  # the app being run; make_app sets it


def _toolkit() -> Toolkit:
    global _commands
    if _commands is None:
        _commands = Commands(typer.Typer())
    return _commands.toolkit


# --- runs --------------------------------------------------------------------------------------

def runtime_options(device: str = "auto", precision: str = "fp32", seed: int = 0, deterministic: bool = False,
                    threads: Optional[int] = None, out: Optional[Path] = None, progress: bool = True,
                    executor: str = "local", workers: Optional[int] = None,
                    executor_settings: Optional[dict[str, Any]] = None) -> RuntimeOptions:
    """RuntimeOptions from CLI flags (plugin commands reuse this); ``executor_settings`` are the
    ``--set executor.KEY=value`` overrides (address, timeout, retries, worker_cpus)."""
    from gentoolkit import runtime

    options = runtime.RuntimeOptions(device=device, precision=precision, seed=seed, deterministic=deterministic,
                                     threads=threads, out=out, progress=progress, executor=executor, workers=workers)
    return runtime.executor_settings(options, executor_settings or {})


def _split_executor_settings(overrides: list[str]) -> tuple[list[str], dict[str, Any]]:
    """``--set executor.KEY=value`` go to the runtime; every other override to the task's config."""
    from gentoolkit.config import parse_override

    rest, settings = [], {}
    for text in overrides:
        keys, value = parse_override(text)
        if keys[0] == "executor" and len(keys) == 2:
            settings[keys[1]] = value
        else:
            rest.append(text)
    return rest, settings


def run(
    task: str = typer.Argument(..., help="Task to run (see `gentoolkit tasks`)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="TOML config file."),
    overrides: list[str] = typer.Option([], "--set", "-s", help="Override a config key: a.b=value (repeatable)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps"),
    precision: str = typer.Option("fp32", help="fp32 | bf16 | fp16 (autocast)"),
    seed: int = typer.Option(0, help="Seed for python, numpy and torch."),
    deterministic: bool = typer.Option(False, help="Use deterministic algorithms only."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch."),
    out: Optional[Path] = typer.Option(None, help="Run folder (default runs/<task>/<timestamp>)."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    executor: str = typer.Option("local", help="local | processes | ray: where parallel work (scoring) runs; --set "
                                 "executor.address=auto|ray://host:port, executor.timeout=S, executor.retries=N."),
    workers: Optional[int] = typer.Option(None, help="Parallel workers for --executor processes|ray (default: CPUs)."),
) -> None:
    """Run a task: validate its config, then train/sample/evaluate on the shared runtime."""
    overrides, settings = _split_executor_settings(overrides)
    options = runtime_options(device, precision, seed, deterministic, threads, out, progress,
                              executor, workers, settings)
    result = _toolkit().run(task, config=config, overrides=overrides, options=options)
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 reports
        print_result(result)


def print_result(result: Any) -> None:
    """Print a run's metrics as a table and say where its files are."""
    table = Table(title=f"{result.task} — metrics", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.metrics.items():
        table.add_row(escape(key), escape(f"{value:.4g}" if isinstance(value, float) else str(value)))
    console.print(table)
    console.print(f"Run folder: [bold]{escape(str(result.out_dir))}[/]")


def show_config(task: str = typer.Argument(..., help="Task whose default config to print.")) -> None:
    """Print a task's default config as TOML (a starting point for --config)."""
    from gentoolkit.config import to_toml

    kit = _toolkit()
    console.print(to_toml(kit.public(kit.config(task))), markup=False, highlight=False)


def runs(
    folder: Path = typer.Argument(Path("runs"), help="A run folder, or a folder of them (default ./runs)."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs to show, newest first."),
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Only runs of this task."),
    json_: bool = typer.Option(False, "--json", help="Print the run.json records as JSON."),
) -> None:
    """List recent runs: when, task, status, headline metric and folder (from each run.json)."""
    from gentoolkit import runlog

    records = [r for r in runlog.find_runs(folder) if task in (None, r.get("task"))][:limit]
    if json_:
        print(json.dumps(records, indent=1))
        return
    if not records:
        err_console.print(f"No runs under {escape(str(folder))} (looked for */run.json and */*/run.json).")
        return
    table = Table(title=f"Runs under {escape(str(folder))}")
    for column in ("started (UTC)", "task", "status", "headline", "folder"):
        table.add_column(column, overflow="fold")
    colours = {"finished": "green", "running": "cyan", "interrupted": "yellow"}
    for r in records:
        status = escape(str(r.get("status")))
        if r.get("error"):
            status += ": " + escape(str(r["error"]).splitlines()[0][:80])
        where = Path(r["folder"])
        where = where.relative_to(Path.cwd()) if where.is_relative_to(Path.cwd()) else where
        table.add_row(escape(str(r.get("started", ""))[:16].replace("T", " ")), escape(str(r.get("task", ""))),
                      f"[{colours.get(r.get('status'), 'red')}]{status}[/]", escape(runlog.headline(r)),
                      escape(str(where)))
    console.print(table)


# --- listings ----------------------------------------------------------------------------------

def _listing(what: str, as_json: bool, can: list[str] | None = None) -> None:
    kit = _toolkit()
    registry = kit.host.registry(what)
    entries = registry.entries()
    if can:
        from gentoolkit.protocols import CAPABILITIES

        unknown = [c for c in can if c not in CAPABILITIES]
        if unknown:
            raise UnknownNameError("capability", unknown[0], CAPABILITIES)
        fitting = set(kit.names_of(what, can=can))
        entries = [e for e in entries if e.name in fitting]
    rows = [{"name": e.name, "plugin": e.plugin, "domain": getattr(e.value, "domain", ""),
             "description": e.description} for e in entries]
    if what == "models":
        for row, entry in zip(rows, entries):
            row["items"] = entry.value.items
            row["capabilities"] = ", ".join(entry.value.capabilities)
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    table = Table(title=what.capitalize())
    for column in rows[0] if rows else ("name", "plugin", "domain", "description"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(str(v)) for v in row.values()))
    for name, plugins in registry.conflicts.items():
        table.add_row(f"[red]{escape(name)}[/]", escape(" and ".join(plugins)), "", "[red]conflict: registered by both[/]")
    console.print(table)


def models(json_: bool = typer.Option(False, "--json", help="Print JSON."),
           can: list[str] = typer.Option([], "--can", help="Only models with this capability: sample, "
                                         "log_prob, encode, train (repeatable).")) -> None:
    """List the models plugins contribute, with the items they work on and their capabilities."""
    _listing("models", json_, can)


def datasets(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the datasets plugins contribute."""
    _listing("datasets", json_)


def evaluators(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the evaluators plugins contribute."""
    _listing("evaluators", json_)


def tasks(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the tasks `gentoolkit run` can run."""
    _listing("tasks", json_)


# --- plugin management -------------------------------------------------------------------------

def plugins(ctx: typer.Context, json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List installed plugins: name, version, hooks implemented, status."""
    if ctx.invoked_subcommand is not None:
        return
    host = _toolkit().host
    host.fill_registries()  # calling the hooks surfaces plugins whose hooks raise
    infos = list(host.plugins.values())
    if json_:
        print(json.dumps([vars(i) for i in infos], indent=1))
        return
    table = Table(title="Plugins")
    for column in ("name", "version", "hooks", "status"):
        table.add_column(column)
    for info in infos:
        status = {"loaded": "[green]loaded[/]", "skipped": "[dim]skipped (GENTOOLKIT_LOAD_PLUGINS)[/]"}.get(
            info.status, "[red]failed[/]")
        if info.errors:
            status = f"[red]{info.status}: {escape('; '.join(info.errors))}[/]"
        table.add_row(info.name, info.version, ", ".join(info.hooks), status)
    console.print(table)


def plugins_available() -> None:
    """List the plugin catalog (registry.toml): built-in and installable plugins."""
    from importlib import metadata

    from gentoolkit.catalog import read_catalog
    from gentoolkit.plugins import ENTRY_POINT_GROUP

    installed = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    table = Table(title="Available plugins")
    for column in ("name", "domain", "installed", "install with", "summary"):
        table.add_column(column)
    for entry in read_catalog().values():
        table.add_row(entry.name, entry.domain, "yes" if entry.name in installed else "no",
                      f"gentoolkit plugins install {entry.name}", entry.summary)
    console.print(table)


def plugins_install(
    target: str = typer.Argument(..., help="A catalog name, a local path, or a pip requirement."),
    editable: bool = typer.Option(False, "--editable", "-e", help="Install a local path in editable mode."),
    upgrade: bool = typer.Option(False, "--upgrade", "-U", help="Upgrade if already installed."),
    no_deps: bool = typer.Option(False, "--no-deps", help="Do not install the plugin's dependencies."),
    no_build_isolation: bool = typer.Option(False, "--no-build-isolation",
                                            help="Build with this environment's setuptools (offline)."),
) -> None:
    """Install a plugin with pip into this environment; it is found at the next command.

    A catalog name installs from the catalog's source (a built-in from its folder or a hash-pinned
    requirement, never by bare name); anything else goes to pip as given.
    """
    from gentoolkit.catalog import read_catalog

    catalog = read_catalog()
    if target not in catalog and not Path(target).exists() and ("/" in target or target.startswith(".")):
        raise GentoolkitError(f"Plugin path {target} does not exist.")
    flags = [flag for flag, on in (("--upgrade", upgrade), ("--no-deps", no_deps),
                                    ("--no-build-isolation", no_build_isolation)) if on]
    with catalog[target].pip_arguments() if target in catalog else contextlib.nullcontext([target]) as spec:
        if editable and not Path(spec[-1]).is_dir():
            raise GentoolkitError(f"--editable needs a local plugin folder, and {target} is not one here.")
        _pip(["install", *(["-e"] if editable else []), *spec, *flags])
    console.print(f"Installed {escape(target)}. Run `gentoolkit plugins` to see it.")


def plugins_uninstall(name: str = typer.Argument(..., help="Plugin name (as `gentoolkit plugins` lists it).")) -> None:
    """Uninstall the distribution that provides plugin NAME."""
    from importlib import metadata

    from gentoolkit.plugins import ENTRY_POINT_GROUP

    providers = {ep.name: ep.dist.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.dist}
    if name not in providers:
        raise UnknownNameError("installed plugin", name, providers)
    _pip(["uninstall", "-y", providers[name]])
    console.print(f"Uninstalled {escape(providers[name])} (plugin {escape(name)}).")


def _pip(args: list[str]) -> None:
    completed = subprocess.run([sys.executable, "-m", "pip", *args])
    if completed.returncode != 0:
        raise GentoolkitError(f"pip {' '.join(args)} failed with exit code {completed.returncode}.")


def version() -> None:
    """Print gentoolkit's version."""
    from gentoolkit import __version__

    console.print(__version__)


# --- entry point -------------------------------------------------------------------------------

def make_app(host: PluginHost | None = None) -> typer.Typer:
    """The root app: the core's commands, then every plugin's through ``register_commands``."""
    global _commands
    from gentoolkit.api import Toolkit

    app = typer.Typer(help="gentoolkit: generative models from plugins, on one shared runtime.",
                      no_args_is_help=True, pretty_exceptions_enable=False)
    app.callback()(_root)
    app.command()(run)
    app.command("config")(show_config)
    app.command()(runs)
    for listing in (tasks, models, datasets, evaluators):
        app.command()(listing)
    plugins_app = typer.Typer(help="List, install and uninstall plugins.", invoke_without_command=True)
    plugins_app.callback()(plugins)
    plugins_app.command("available")(plugins_available)
    plugins_app.command("install")(plugins_install)
    plugins_app.command("uninstall")(plugins_uninstall)
    app.add_typer(plugins_app, name="plugins")
    app.command()(version)
    _commands = Commands(app, Toolkit(host=host) if host is not None else None)
    _commands.toolkit.host.call_each("register_commands", cli=_commands)
    return app


DEBUG_ENV = "GENTOOLKIT_DEBUG"


def _root(debug: bool = typer.Option(False, "--debug", envvar=DEBUG_ENV,
                                      help=f"Show the Python traceback of an error (or set {DEBUG_ENV}=1).")) -> None:
    """gentoolkit: generative models from plugins, on one shared runtime."""
    # main() reads --debug and the variable itself: an error may come before options are parsed.


def _explain_missing_command() -> None:
    """After "No such command": name the plugins that did not load, whose commands are missing."""
    why = {"skipped": "skipped by GENTOOLKIT_LOAD_PLUGINS", "failed": "failed to load"}
    missing = [f"{i.name} ({why[i.status]})" for i in _toolkit().host.plugins.values() if i.status in why]
    if missing:
        err_console.print(f"Plugins not loaded: {escape(', '.join(missing))}; "
                          "their commands are not available (see `gentoolkit plugins`).")


def _debug() -> bool:
    return "--debug" in sys.argv[1:] or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Plugin and skipped-input warnings as one yellow line on stderr; others as Python prints them."""
    from gentoolkit.errors import PluginWarning, SkippedInputWarning

    if issubclass(category, (PluginWarning, SkippedInputWarning)):
        err_console.print(f"[yellow]warning:[/] {escape(str(message))}")
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


def main() -> None:
    """Console-script entry: every error is one clear paragraph and a non-zero exit, never a traceback.

    Usage errors exit 2 (as click's do), gentoolkit errors 2, Ctrl-C 130, anything else 1 and
    points at --debug, which shows the traceback.
    """
    warnings.showwarning = _show_warning
    try:
        code = make_app()(standalone_mode=False)
    except typer.TyperException as err:  # typer's click: usage errors, bad parameters, missing arguments
        show = getattr(err, "show", None)
        show() if show else err_console.print(f"Error: {escape(str(err))}")
        if "No such command" in str(err):
            _explain_missing_command()
        code = err.exit_code
    except typer.Abort:
        err_console.print("Aborted.")
        code = 1
    except GentoolkitError as err:
        if _debug():
            err_console.print_exception()
        err_console.print(f"[bold red]Error:[/] {escape(str(err))}")
        code = 2
    except KeyboardInterrupt:  # raised outside the command (while loading plugins): typer did not see it
        err_console.print("Interrupted.")
        code = 130
    except Exception as err:
        if _debug():
            err_console.print_exception()
        err_console.print(f"[bold red]Error:[/] {escape(f'{type(err).__name__}: {err}')}\n"
                          f"This is a bug in gentoolkit or a plugin, not in your input; rerun with --debug "
                          "for the traceback and report it.")
        code = 1
    # In non-standalone mode typer hands back Exit's code (Ctrl-C is Exit(130)) or the command's
    # return value (None when it succeeded).
    raise SystemExit(code if isinstance(code, int) else 0)
