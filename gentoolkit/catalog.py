"""``registry.toml``: the catalog of known plugins, built-in and installable, validated on read."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gentoolkit.errors import ConfigError

CATALOG_ENV = "GENTOOLKIT_REGISTRY"
FIELDS = {"summary", "domain", "requirement", "path", "builtin"}


@dataclass(frozen=True)
class CatalogEntry:
    """One known plugin: what ``gentoolkit plugins available`` lists and ``install NAME`` installs."""

    name: str
    summary: str
    domain: str
    requirement: str  # what pip installs when the plugin is not built in
    path: Path | None = None  # built-in plugins: their folder in this repository
    builtin: bool = False

    @property
    def install_target(self) -> str:
        """A local path for built-ins present on disk, else the pip requirement."""
        if self.path is not None and self.path.exists():
            return str(self.path)
        return self.requirement


def catalog_path() -> Path:
    """``$GENTOOLKIT_REGISTRY``, else the ``registry.toml`` beside the installed source tree."""
    if os.environ.get(CATALOG_ENV):
        return Path(os.environ[CATALOG_ENV])
    return Path(__file__).resolve().parents[1] / "registry.toml"


def read_catalog(path: Path | None = None) -> dict[str, CatalogEntry]:
    """Read and validate the catalog: every entry needs summary, domain and a requirement."""
    path = path or catalog_path()
    if not path.is_file():
        raise ConfigError(f"Plugin catalog {path} not found; set {CATALOG_ENV} to a registry.toml.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"Plugin catalog {path} is not valid TOML: {err}.") from err
    entries = {}
    for name, spec in data.get("plugins", {}).items():
        where = f"{path} [plugins.{name}]"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where} must be a table.")
        unknown = set(spec) - FIELDS
        if unknown:
            raise ConfigError(f"{where} has unknown keys {sorted(unknown)}; valid keys: {sorted(FIELDS)}.")
        missing = {"summary", "domain", "requirement"} - set(spec)
        if missing:
            raise ConfigError(f"{where} lacks {sorted(missing)}.")
        local = path.parent / spec["path"] if "path" in spec else None
        entries[name] = CatalogEntry(name, spec["summary"], spec["domain"], spec["requirement"],
                                     local, bool(spec.get("builtin", False)))
    return entries
