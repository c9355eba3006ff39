"""gentoolkit-provenance: every generated file is watermarked where a signal can hide, and signed.

Only hook implementations live here (the hook it declares for others is in ``hookspecs.py``); the work is imported inside them, so loading the plugin
costs nothing until a task writes a generated file or ``gentoolkit detect`` runs.
"""

from __future__ import annotations

from typing import Any

from gentoolkit import hookimpl


@hookimpl
def add_hookspecs(pluginmanager: Any) -> None:
    from gentoolkit_provenance import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def register_settings(register: Any) -> None:
    from gentoolkit.contributions import Settings as Table
    from gentoolkit.errors import ConfigError

    from gentoolkit_provenance.credentials import check_setup
    from gentoolkit_provenance.settings import DEFAULT_KEY, defaults

    try:
        table, check = defaults(), check_setup
    except ConfigError as err:  # a broken user config is refused when a run starts, not at its first file
        table = {"key": DEFAULT_KEY, "watermark": True, "certificate": "", "private_key": ""}

        def check(_: dict, problem: ConfigError = err) -> None:
            raise problem

    register(Table("provenance", table, "Watermarks and signed manifests on generated files",
                   secret=("key",), check=check))


@hookimpl
def register_tasks(register: Any) -> None:
    from gentoolkit.contributions import Task

    from gentoolkit_provenance import passive

    register(Task("passive-detector", passive.run_passive, passive.DEFAULTS, ranges=passive.RANGES,
                  domain="provenance", headline="auroc_unseen_mean",
                  description="Real-vs-generated classifier for digits: trained against one generator "
                              "family of the registry, AUROC on the families it never saw"))


@hookimpl
def process_artifact(artifact: Any, runtime: Any) -> dict[str, Any]:
    from gentoolkit_provenance.mark import mark_artifact

    return mark_artifact(artifact, runtime)


@hookimpl
def generation_watermark(kind: str, runtime: Any) -> dict[str, Any] | None:
    if kind != "text":
        return None
    from gentoolkit_provenance.settings import run_settings
    from gentoolkit_provenance.textmark import text_watermark

    settings = run_settings(runtime)
    return text_watermark(settings) if settings.watermark else None


@hookimpl
def register_commands(cli: Any) -> None:
    from gentoolkit_provenance.commands import add_commands

    add_commands(cli)
