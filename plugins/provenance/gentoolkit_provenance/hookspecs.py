"""The hook this plugin declares, for other plugins: watermark readers for their own file types."""

from __future__ import annotations

from typing import Any, Callable

from gentoolkit import hookspec


@hookspec
def register_provenance_readers(register: Callable[[Any], None]) -> None:
    """Contribute watermark readers for file types ``gentoolkit detect`` does not know.

    Called once when ``detect`` first runs in a toolkit. Call ``register(reader)``, where
    ``reader`` has ``name``, ``suffixes`` (like ``(".xyz",)``) and ``read(path, key: bytes)``
    returning ``{"verdict": "marked"|"unmarked"|..., ...statistics}``. Return nothing.
    """
