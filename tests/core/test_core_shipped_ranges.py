"""Every number of every shipped task's config has a declared range, and a value outside it is named."""

from __future__ import annotations

import importlib

import pytest

from gentoolkit.api import Toolkit
from gentoolkit.errors import ConfigError

SHIPPED = {"molecules": "gentoolkit_molecules", "text": "gentoolkit_text", "image": "gentoolkit_image",
           "audio": "gentoolkit_audio", "anomaly": "gentoolkit_anomaly", "sampling": "gentoolkit_sampling",
           "passive-detector": "gentoolkit_provenance", "augmentation": "gentoolkit_augmentation",
           "augmentation-molecules": "gentoolkit_augmentation", "augmentation-text": "gentoolkit_augmentation",
           "tabular": "gentoolkit_tabular"}


def numeric_keys(config, where=""):
    """Dotted names of the int/float leaves of a config (bools are not numbers here)."""
    for key, value in config.items():
        dotted = f"{where}.{key}" if where else key
        if isinstance(value, dict):
            yield from numeric_keys(value, dotted)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield dotted


def lookup(ranges, dotted):
    for part in dotted.split("."):
        ranges = ranges.get(part, {}) if isinstance(ranges, dict) else {}
    return ranges or None


@pytest.mark.parametrize("task", sorted(SHIPPED))
def test_every_number_of_a_shipped_task_has_a_range_and_is_checked(task):
    pytest.importorskip(SHIPPED[task])
    kit = Toolkit(plugins=[importlib.import_module(SHIPPED[task])], entrypoints=False)
    spec = kit.tasks[task]
    keys = list(numeric_keys(spec.config))
    missing = [k for k in keys if lookup(spec.ranges, k) is None]
    assert keys and not missing, f"{task}: numbers without a declared range: {missing}"
    kit.config(task)  # the defaults are in range
    for key in keys:
        with pytest.raises(ConfigError, match=f"'{key}' must be"):
            kit.config(task, overrides={key: -(10**9)} if not lookup(spec.ranges, key).startswith("<")
                       else {key: 10**9})


def test_the_list_above_covers_every_task_of_every_built_in_plugin():
    from gentoolkit.catalog import read_catalog

    builtins = [f"gentoolkit_{name}" for name, entry in read_catalog().items() if entry.builtin]
    tasks = {name for module in builtins
             for name in Toolkit(plugins=[importlib.import_module(module)], entrypoints=False).tasks}
    assert tasks == set(SHIPPED), "add the new tasks to SHIPPED so their ranges are checked"
