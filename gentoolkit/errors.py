"""Errors the CLI shows as one clear message, without a traceback."""

from __future__ import annotations

import difflib
from typing import Iterable

__all__ = ["GentoolkitError", "UnknownNameError", "ConfigError", "CheckpointError", "PluginError", "PluginWarning",
           "SkippedInputWarning", "skip_bad_records"]


class GentoolkitError(Exception):
    """A user-facing error: the message names the input and says what to do."""


class UnknownNameError(GentoolkitError, KeyError):
    """A name that nothing registered; the message suggests the close ones."""

    def __init__(self, kind: str, name: str, known: Iterable[str], note: str = ""):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(known) if known else "none are registered"
        super().__init__(f"Unknown {kind} {name!r}.{hint} Known {kind} names: {listing}." + (f" {note}" if note else ""))
        self.kind, self.name, self.suggestions = kind, name, close

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class ConfigError(GentoolkitError):
    """A config file or override that does not fit the task's schema."""


class CheckpointError(GentoolkitError):
    """A checkpoint that is missing, truncated, corrupt or made for another model."""


class PluginError(GentoolkitError):
    """A plugin that failed to load or whose hook raised."""


class PluginWarning(UserWarning):
    """A plugin failed to load, a hook of it raised, or two plugins claimed one name."""


class SkippedInputWarning(UserWarning):
    """Some records of an input (lines, files) were bad and were left out; see :func:`skip_bad_records`."""


def skip_bad_records(source: str, bad: list[tuple[str, str]], total: int, strict: bool = False,
                     what: str = "records", error: type[GentoolkitError] = GentoolkitError) -> None:
    """The one policy for partly bad input in every plugin: skip bad records and say so, or refuse.

    ``bad`` holds ``(where, why)`` for each bad record, e.g. ``("line 3", "not valid JSON")``. With
    ``strict`` any bad record is an error; without, a :class:`SkippedInputWarning` gives the count
    and the first one. A source with nothing usable left is always an ``error``.
    """
    if not bad:
        return
    where, why = bad[0]
    summary = f"{len(bad)} of {total} {what} in {source} are bad; the first, at {where}: {why}"
    if strict:
        raise error(f"{summary}. Fix them, or turn strict off to skip them.")
    if len(bad) >= total:
        raise error(f"{summary}. Nothing usable is left.")
    import warnings

    warnings.warn(f"{summary}. Skipped them (set strict to refuse such input instead).", SkippedInputWarning,
                  stacklevel=3)
