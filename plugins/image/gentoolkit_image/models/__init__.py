"""The image model families by name, and their parameter schemas.

Families are listed as import paths and imported only when asked for, so listing them is free
and a family's module may use anything torch offers. Saving and loading go through the core
(``Toolkit.save_model`` / ``Toolkit.load_model``), like any other plugin's models.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Sequence

from gentoolkit import UnknownNameError

from gentoolkit_image.models.base import ImageModel, bits_per_dim

# family: (import path of the class, name of its params dataclass in that module)
MODEL_FAMILIES: dict[str, tuple[str, str]] = {
    "vae": ("gentoolkit_image.models.vae:VAE", "VAEParams"),
    "gan": ("gentoolkit_image.models.gan:GAN", "GANParams"),
    "realnvp": ("gentoolkit_image.models.flow:RealNVP", "FlowParams"),
    "glow": ("gentoolkit_image.models.flow:Glow", "FlowParams"),
    "pixelcnn": ("gentoolkit_image.models.pixelcnn:PixelCNN", "PixelCNNParams"),
    "ddpm": ("gentoolkit_image.models.ddpm:DDPM", "DDPMParams"),
    "cyclegan": ("gentoolkit_image.models.cyclegan:CycleGAN", "CycleGANParams"),
}

__all__ = ["MODEL_FAMILIES", "ImageModel", "bits_per_dim", "model_class", "create_model", "param_schema"]


def _module_and_class(family: str) -> tuple[Any, str]:
    if family not in MODEL_FAMILIES:
        raise UnknownNameError("image model", family, MODEL_FAMILIES)
    module, name = MODEL_FAMILIES[family][0].split(":")
    return importlib.import_module(module), name


def model_class(family: str) -> type[ImageModel]:
    """The class of ``family``; UnknownNameError names the known families."""
    module, name = _module_and_class(family)
    return getattr(module, name)


def param_schema(family: str) -> dict[str, Any]:
    """Every keyword ``create_model`` takes for ``family``, with its default (the params schema)."""
    module, _ = _module_and_class(family)
    params = getattr(module, MODEL_FAMILIES[family][1])
    return {"image_shape": [1, 8, 8], "classes": [],
            **{f.name: f.default for f in dataclasses.fields(params)}}


def create_model(family: str, image_shape: Sequence[int], classes: Sequence[str] = (), **params: Any) -> ImageModel:
    """A fresh, untrained model of ``family`` for images of ``image_shape`` (C, H, W); ``classes``
    (names) makes it class-conditional."""
    return model_class(family)(tuple(image_shape), classes, **params)
