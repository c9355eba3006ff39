"""Task configs: a TOML file and ``--set a.b=value`` overrides merged over the task's defaults.

The defaults are the schema. A key the defaults lack is an error listing the valid keys at that
level (a table whose default is empty accepts any keys), a value of the wrong type is an error
naming the key and the type expected, and a number outside the range a task declares (``">= 1"``,
``"(0, 1]"``) is an error naming the key and the range. Every problem is reported at once.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import tomllib
from pathlib import Path
from typing import Any, Iterable, Mapping, TypeVar

from gentoolkit.errors import ConfigError

T = TypeVar("T")

__all__ = ["read_toml", "parse_override", "apply_overrides", "merge", "check_ranges", "in_range", "resolve", "to_toml",
           "write_toml", "parse_params"]


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file, with errors that name the file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"Config file {path} is a folder; give the path of a .toml file in it.")
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


def merge(defaults: Mapping[str, Any], user: Mapping[str, Any], where: str = "",
          problems: list[str] | None = None) -> dict[str, Any]:
    """``user`` merged over ``defaults``, validated against them (see the module docstring).

    Problems are appended to ``problems`` when given; otherwise they raise one ConfigError.
    """
    found: list[str] = [] if problems is None else problems
    merged = copy.deepcopy(dict(defaults))
    for key, value in user.items():
        dotted = f"{where}.{key}" if where else key
        if defaults and key not in defaults:
            found.append(_unknown_key(dotted, key, defaults, where))
            continue
        default = defaults.get(key)
        if isinstance(default, Mapping) and default:
            if not isinstance(value, Mapping):
                found.append(f"Config key {dotted!r} must be a table with keys {', '.join(sorted(default))}.")
            else:
                merged[key] = merge(default, value, dotted, found)
            continue
        try:
            merged[key] = _check_type(dotted, default, value)
        except ConfigError as err:
            found.append(str(err))
    if problems is None and found:
        raise ConfigError(_join(found))
    return merged


def check_ranges(config: Mapping[str, Any], ranges: Mapping[str, Any], where: str = "") -> list[str]:
    """One line per number of ``config`` outside its range in ``ranges`` (nested like the config).

    A range is ``">= 1"``, ``"> 0"``, ``"<= 1"`` or an interval such as ``"[0, 1)"`` (``inf`` allowed).
    """
    problems = []
    for key, rule in ranges.items():
        dotted = f"{where}.{key}" if where else key
        value = config.get(key)
        if isinstance(rule, Mapping):
            problems += check_ranges(value, rule, dotted) if isinstance(value, Mapping) else []
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and not in_range(value, rule):
            problems.append(f"Config key {dotted!r} must be {rule}, got {value!r}.")
    return problems


def in_range(value: float, rule: str) -> bool:
    """Whether ``value`` satisfies ``rule`` (see :func:`check_ranges`); NaN never does."""
    if isinstance(value, float) and math.isnan(value):
        return False
    if match := re.fullmatch(r"\s*(>=|>|<=|<)\s*(\S+)\s*", rule):
        op, bound = match[1], float(match[2])
        return {">=": value >= bound, ">": value > bound, "<=": value <= bound, "<": value < bound}[op]
    if match := re.fullmatch(r"\s*([\[(])\s*([^,\s]+)\s*,\s*([^\])\s]+)\s*([\])])\s*", rule):
        low, high = float(match[2]), float(match[3])
        above = value >= low if match[1] == "[" else value > low
        below = value <= high if match[4] == "]" else value < high
        return above and below
    raise ValueError(f"range {rule!r} is not like '>= 1' or '[0, 1)'")


def _join(problems: list[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems)


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
            overrides: Iterable[str] | Mapping[str, Any] | None = None,
            ranges: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The effective config: defaults, then a TOML file or dict, then overrides, all validated.

    Every unknown key, wrong type and out-of-range number is reported in one ConfigError that
    names the config file.
    """
    user = read_toml(config) if isinstance(config, (str, Path)) else dict(config or {})
    problems: list[str] = []
    merged = merge(defaults, apply_overrides(user, overrides or ()), problems=problems)
    problems += check_ranges(merged, ranges or {})
    if problems:
        source = ""
        if isinstance(config, (str, Path)):
            source = f"In config file {config}{' and the --set overrides' if overrides else ''}: "
        raise ConfigError(source + _join(problems))
    return merged


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


def parse_params(params_class: type[T], params: Mapping[str, Any], where: str) -> T:
    """``params`` as an instance of the dataclass ``params_class`` (a model's hyperparameters);
    an unknown key is a ConfigError naming ``where`` and the key, instead of a TypeError."""
    try:
        return params_class(**params)
    except TypeError as err:
        raise ConfigError(f"{where}: {err}") from None
