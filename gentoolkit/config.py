"""Task configs: a TOML file and ``--set a.b=value`` overrides merged over the task's defaults.

The defaults are the schema. A key the defaults lack is an error listing the valid keys at that
level (a table whose default is empty accepts any keys), and a value of the wrong type is an
error naming the key and the type expected.
"""

from __future__ import annotations

import copy
import difflib
import tomllib
from pathlib import Path
from typing import Any, Iterable, Mapping

from gentoolkit.errors import ConfigError

__all__ = ["read_toml", "parse_override", "apply_overrides", "merge", "resolve", "to_toml", "write_toml"]


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist.")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"Config file {path} is not valid TOML: {err}.") from err


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"rl.batch_size=64"`` -> (["rl", "batch_size"], 64). Values are TOML literals, else strings."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"Override {text!r} is not of the form key.path=value.")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return [part.strip() for part in key.split(".")], value


def apply_overrides(config: dict[str, Any], overrides: Iterable[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Set each dotted key of ``overrides`` in a copy of ``config``."""
    config = copy.deepcopy(config)
    pairs = overrides.items() if isinstance(overrides, Mapping) else (parse_override(o) for o in overrides)
    for keys, value in pairs:
        keys = keys.split(".") if isinstance(keys, str) else keys
        table = config
        for key in keys[:-1]:
            table = table.setdefault(key, {})
            if not isinstance(table, dict):
                raise ConfigError(f"Override {'.'.join(keys)}: {key!r} is a value, not a table.")
        table[keys[-1]] = value
    return config


def merge(defaults: Mapping[str, Any], user: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """``user`` merged over ``defaults``, validated against them (see the module docstring)."""
    merged = copy.deepcopy(dict(defaults))
    for key, value in user.items():
        dotted = f"{where}.{key}" if where else key
        if defaults and key not in defaults:
            raise ConfigError(_unknown_key(dotted, key, defaults, where))
        default = defaults.get(key)
        if isinstance(default, Mapping) and default:
            if not isinstance(value, Mapping):
                raise ConfigError(f"Config key {dotted!r} must be a table with keys {', '.join(sorted(default))}.")
            merged[key] = merge(default, value, dotted)
        else:
            merged[key] = _check_type(dotted, default, value)
    return merged


def _unknown_key(dotted: str, key: str, defaults: Mapping[str, Any], where: str) -> str:
    close = difflib.get_close_matches(key, list(defaults), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    scope = f"under {where!r}" if where else "at the top level"
    return f"Unknown config key {dotted!r}.{hint} Valid keys {scope}: {', '.join(sorted(defaults))}."


def _check_type(dotted: str, default: Any, value: Any) -> Any:
    if default is None:
        return value
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(default, bool) and isinstance(value, bool)
    elif isinstance(default, float) and isinstance(value, int):
        return float(value)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f"Config key {dotted!r} must be {type(default).__name__} "
                          f"(like the default {default!r}), got {value!r}.")
    return value


def resolve(defaults: Mapping[str, Any], config: Mapping[str, Any] | str | Path | None = None,
            overrides: Iterable[str] | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The effective config: defaults, then a TOML file or dict, then overrides, all validated."""
    user = read_toml(config) if isinstance(config, (str, Path)) else dict(config or {})
    return merge(defaults, apply_overrides(user, overrides or ()))


def to_toml(config: Mapping[str, Any]) -> str:
    """A config as TOML text (None values, which TOML cannot hold, are left out)."""
    import tomli_w

    def drop_none(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: drop_none(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [drop_none(v) for v in value]
        return value

    return tomli_w.dumps(drop_none(config))


def write_toml(config: Mapping[str, Any], path: str | Path) -> Path:
    """Save a config as TOML, e.g. the effective config of a run."""
    path = Path(path)
    path.write_text(to_toml(config))
    return path
