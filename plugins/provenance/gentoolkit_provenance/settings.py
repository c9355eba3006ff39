"""The provenance settings every task shares: the signing key, the watermark switch, the C2PA credentials.

A run's ``[provenance]`` table (``--set provenance.watermark=false``, or the table in a ``--config``
file) wins; the core validates it against :func:`defaults` and hands it over as
``runtime.settings("provenance")``. The defaults come, first match wins, from the environment
(``GENTOOLKIT_PROVENANCE_KEY``, ``GENTOOLKIT_PROVENANCE_WATERMARK=0``), then the ``[provenance]``
table of ``config.toml`` in the user's config folder (``GENTOOLKIT_CONFIG_DIR``, else
``$XDG_CONFIG_HOME/gentoolkit``, else ``~/.config/gentoolkit``), then the constants below.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from gentoolkit.errors import ConfigError

__all__ = ["DEFAULT_KEY", "Settings", "config_dir", "defaults", "load_settings", "from_table", "run_settings"]

# Public on purpose: marks made with it are found by anyone's detector, and manifests signed with it
# are reported "untrusted", since anyone can forge them. Set your own key to make them "valid".
DEFAULT_KEY = "gentoolkit-public-provenance-key"


@dataclass(frozen=True)
class Settings:
    key: bytes = DEFAULT_KEY.encode()
    watermark: bool = True  # invisible watermarks in images; manifests are always written
    certificate: str = ""  # a C2PA signing certificate chain (PEM), else `provenance init`'s
    private_key: str = ""  # its private key (PEM)

    @property
    def key_id(self) -> str:
        """A public name for the key (not the key): manifests say which key signed them."""
        return hashlib.sha256(b"gentoolkit-key-id:" + self.key).hexdigest()[:16]

    @property
    def default_key(self) -> bool:
        return self.key == DEFAULT_KEY.encode()


def config_dir() -> Path:
    """The user's gentoolkit config folder."""
    if os.environ.get("GENTOOLKIT_CONFIG_DIR"):
        return Path(os.environ["GENTOOLKIT_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "gentoolkit"


def defaults() -> dict[str, Any]:
    """The ``[provenance]`` defaults of every run: the environment, else the user config, else the constants."""
    table = _user_table()
    key = os.environ.get("GENTOOLKIT_PROVENANCE_KEY") or table.get("key") or DEFAULT_KEY
    raw = os.environ.get("GENTOOLKIT_PROVENANCE_WATERMARK")
    watermark = table.get("watermark", True) if raw is None else raw.strip().lower() not in ("0", "false", "no", "off")
    if not isinstance(key, str) or not isinstance(watermark, bool):
        raise ConfigError(f"The [provenance] table of {config_dir() / 'config.toml'} needs key = \"a non-empty "
                          "string\" and watermark = true|false.")
    return {"key": key, "watermark": watermark, "certificate": str(table.get("certificate", "")),
            "private_key": str(table.get("private_key", ""))}


def from_table(table: Mapping[str, Any]) -> Settings:
    """Settings from a ``[provenance]`` table (a run's, or :func:`defaults`)."""
    if not table["key"]:
        raise ConfigError("provenance.key is empty; give a non-empty secret, or leave it out to use the default.")
    paths = {name: str(Path(table[name]).expanduser()) if table[name] else "" for name in ("certificate", "private_key")}
    return Settings(table["key"].encode(), table["watermark"], **paths)


def load_settings(key: str | None = None) -> Settings:
    """The settings outside a run (``gentoolkit detect``): the defaults, an explicit ``key`` winning."""
    table = defaults()
    return from_table({**table, "key": key or table["key"]})


def run_settings(runtime: Any) -> Settings:
    """The settings of the run ``runtime`` belongs to (its ``[provenance]`` table)."""
    table = runtime.settings("provenance") if hasattr(runtime, "settings") else {}
    return from_table(table) if table else load_settings()


def _user_table() -> dict:
    path = config_dir() / "config.toml"
    if not path.is_file():
        return {}
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("provenance", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"User config {path} is not valid TOML: {err}. Fix or remove it.") from err
    unknown = set(table) - {"key", "watermark", "certificate", "private_key"}
    if unknown:
        raise ConfigError(f"Unknown key(s) {', '.join(sorted(unknown))} in [provenance] of {path}; "
                          "valid keys: certificate, key, private_key, watermark.")
    return table
