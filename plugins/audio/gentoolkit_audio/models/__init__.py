"""The audio model families by name, and their parameter schemas.

Families are import paths, imported only when asked for, so listing them costs nothing. Saving
and loading go through the core (``Toolkit.save_model`` / ``Toolkit.load_model``).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Sequence

from gentoolkit import UnknownNameError

# family: (import path of the class, name of its params dataclass in that module)
MODEL_FAMILIES: dict[str, tuple[str, str]] = {
    "wavenet": ("gentoolkit_audio.models.wavenet:WaveNet", "WaveNetParams"),
    "mel-vae": ("gentoolkit_audio.models.melvae:MelVAE", "MelVAEParams"),
    "wavegan": ("gentoolkit_audio.models.wavegan:WaveGAN", "WaveGANParams"),
}

__all__ = ["MODEL_FAMILIES", "model_class", "create_model", "param_schema"]


def _module_and_class(family: str) -> tuple[Any, str]:
    if family not in MODEL_FAMILIES:
        raise UnknownNameError("audio model", family, MODEL_FAMILIES)
    module, name = MODEL_FAMILIES[family][0].split(":")
    return importlib.import_module(module), name


def model_class(family: str) -> type:
    module, name = _module_and_class(family)
    return getattr(module, name)


def param_schema(family: str) -> dict[str, Any]:
    """Every keyword ``create_model`` takes for ``family``, with its default (the params schema)."""
    module, _ = _module_and_class(family)
    params = getattr(module, MODEL_FAMILIES[family][1])
    return {"length": 16000, "sample_rate": 16000, "classes": [],
            **{f.name: f.default for f in dataclasses.fields(params)}}


def create_model(family: str, length: int = 16000, sample_rate: int = 16000, classes: Sequence[str] = (),
                 **params: Any) -> Any:
    """A fresh, untrained model of ``family`` for clips of ``length`` samples at ``sample_rate``;
    ``classes`` (names) makes it class-conditional."""
    return model_class(family)(length, sample_rate, classes, **params)
