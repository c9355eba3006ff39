"""The store behind the ``register`` callbacks: lookup, listing, conflicts and unknown names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Iterator, Mapping, TypeVar

from gentoolkit.errors import PluginError, UnknownNameError

__all__ = ["Registry", "Entry"]

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One contribution and the plugin that made it."""

    name: str
    value: T
    plugin: str

    @property
    def description(self) -> str:
        return getattr(self.value, "description", "") or ""


class Registry(Mapping[str, T]):
    """Contributions of one kind (models, datasets, ...) by name.

    A name claimed by two plugins is kept out of the lookup and reported as a conflict naming
    both; looking it up raises :class:`PluginError`. An unknown name raises
    :class:`UnknownNameError`, which suggests the close ones.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self.conflicts: dict[str, list[str]] = {}
        self.failures: dict[str, str] = {}  # plugin -> why its contributions may be missing

    def add(self, value: T, plugin: str) -> None:
        """Record ``value`` (anything with a ``name``) as contributed by ``plugin``."""
        name = getattr(value, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin!r} registered a {self.kind} without a name: {value!r}")
        if name in self.conflicts:
            self.conflicts[name].append(plugin)
        elif name in self._entries:
            self.conflicts[name] = [self._entries.pop(name).plugin, plugin]
        else:
            self._entries[name] = Entry(name, value, plugin)

    def entry(self, name: str) -> Entry[T]:
        if name in self.conflicts:
            plugins = " and ".join(repr(p) for p in self.conflicts[name])
            raise PluginError(f"The {self.kind} {name!r} is registered by both {plugins}; "
                              "uninstall or disable one of them (GENTOOLKIT_LOAD_PLUGINS).")
        try:
            return self._entries[name]
        except KeyError:
            note = " ".join(f"Plugin {plugin!r} may provide it but failed: {why}; fix or disable it "
                            "(GENTOOLKIT_LOAD_PLUGINS)." for plugin, why in self.failures.items())
            raise UnknownNameError(self.kind, name, self._entries, note) from None

    def get(self, name: str, default: Any = None) -> T:  # type: ignore[override]
        """The contribution called ``name``; raises instead of returning a default."""
        return self.entry(name).value

    def __getitem__(self, name: str) -> T:
        return self.entry(name).value

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        return [self._entries[name] for name in self.names()]
