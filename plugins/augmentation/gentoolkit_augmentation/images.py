"""``gentoolkit run augmentation``: generative augmentation of scarce digits (in progress)."""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {"dataset": "digits", "per_class": [5, 10]}


def run(runtime: Any, config: dict[str, Any]) -> Any:
    from gentoolkit import GentoolkitError

    raise GentoolkitError("The augmentation task is being written; it lands on branch h1 shortly.")
