"""The catalog of known plugins (``gentoolkit/registry.toml``, package data), validated on read."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator

from gentoolkit.errors import ConfigError, GentoolkitError

CATALOG_ENV = "GENTOOLKIT_REGISTRY"
FIELDS = {"summary", "domain", "requirement", "path", "builtin"}
# "name==version --hash=sha256:<64 hex>" (more --hash options allowed): what pip's hash-checking mode takes.
PINNED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]*\])?==\S+(\s+--hash=sha256:[0-9a-f]{64})+")


@dataclass(frozen=True)
class CatalogEntry:
    """One known plugin: what ``gentoolkit plugins available`` lists and ``install NAME`` installs."""

    name: str
    summary: str
    domain: str
    requirement: str | None  # a pip requirement; for a built-in, only one pinned with a hash
    path: Path | None = None  # built-in plugins: their folder in a gentoolkit checkout
    builtin: bool = False

    @contextlib.contextmanager
    def pip_arguments(self) -> Iterator[list[str]]:
        """What ``pip install`` gets: the local folder, a hash-pinned requirements file, or the requirement.

        A built-in with neither its folder nor a pinned requirement is refused: its bare name on a
        package index could belong to anyone.
        """
        if self.path is not None and self.path.is_dir():
            yield [str(self.path)]
        elif self.builtin and self.requirement:
            with tempfile.TemporaryDirectory() as folder:
                requirements = Path(folder) / "requirements.txt"
                requirements.write_text(self.requirement + "\n")
                yield ["--require-hashes", "-r", str(requirements)]
        elif self.builtin:
            raise GentoolkitError(
                f"Plugin {self.name!r} is built into gentoolkit, but its folder {self.path} is not here (a "
                "gentoolkit installed from a wheel has no plugins/ folder) and the catalog pins no hashed "
                "requirement for it; it is never installed by bare name from a package index, where anyone "
                f"could publish that name. Install it from a gentoolkit checkout: `gentoolkit plugins install "
                f"/path/to/gentoolkit/plugins/{self.path.name if self.path else self.name}`.")
        else:
            yield [self.requirement]


def catalog_path() -> Path | None:
    """``$GENTOOLKIT_REGISTRY`` if set, else None: the catalog shipped in the package."""
    return Path(os.environ[CATALOG_ENV]) if os.environ.get(CATALOG_ENV) else None


def read_catalog(path: Path | None = None) -> dict[str, CatalogEntry]:
    """Read and validate a catalog: ``path``, ``$GENTOOLKIT_REGISTRY``, else the package's own.

    Built-in folders are relative to the catalog file's folder, or for the package's own catalog
    to the folder holding the package (the repository root in a checkout).
    """
    path = path or catalog_path()
    if path is None:
        package = resources.files("gentoolkit")
        where, text = "gentoolkit/registry.toml", (package / "registry.toml").read_text(encoding="utf-8")
        root = Path(str(package)).parent
    else:
        if not path.is_file():
            raise ConfigError(f"Plugin catalog {path} not found; set {CATALOG_ENV} to a registry.toml "
                              "or unset it to use the catalog shipped with gentoolkit.")
        where, text, root = str(path), path.read_text(encoding="utf-8"), path.parent
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"Plugin catalog {where} is not valid TOML: {err}.") from err
    return {name: _entry(name, spec, f"{where} [plugins.{name}]", root)
            for name, spec in data.get("plugins", {}).items()}


def _entry(name: str, spec: object, where: str, root: Path) -> CatalogEntry:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a table.")
    unknown = set(spec) - FIELDS
    if unknown:
        raise ConfigError(f"{where} has unknown keys {sorted(unknown)}; valid keys: {sorted(FIELDS)}.")
    builtin = bool(spec.get("builtin", False))
    missing = {"summary", "domain", "path" if builtin else "requirement"} - set(spec)
    if missing:
        raise ConfigError(f"{where} lacks {sorted(missing)}.")
    requirement = spec.get("requirement")
    if builtin and requirement is not None and not PINNED.fullmatch(requirement.strip()):
        raise ConfigError(f"{where}: requirement {requirement!r} is not pinned with a hash. A built-in "
                          "plugin installs from its folder, or from 'name==version --hash=sha256:<hex>' only.")
    local = root / spec["path"] if "path" in spec else None
    return CatalogEntry(name, spec["summary"], spec["domain"], requirement, local, builtin)
