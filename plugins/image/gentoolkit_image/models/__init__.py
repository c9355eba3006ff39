"""The image model families by name, and saving/loading them as checkpoints.

Families are listed as import paths and imported only when asked for, so listing them is free
and a family's module may use anything torch offers.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Mapping

from gentoolkit.checkpoint import check_compatible, load_checkpoint, read_metadata, save_checkpoint
from gentoolkit.errors import CheckpointError, UnknownNameError

from gentoolkit_image.models.base import ImageModel, bits_per_dim

MODEL_FAMILIES: dict[str, str] = {
    "vae": "gentoolkit_image.models.vae:VAE",
    "gan": "gentoolkit_image.models.gan:GAN",
    "realnvp": "gentoolkit_image.models.flow:RealNVP",
    "glow": "gentoolkit_image.models.flow:Glow",
    "pixelcnn": "gentoolkit_image.models.pixelcnn:PixelCNN",
    "ddpm": "gentoolkit_image.models.ddpm:DDPM",
    "cyclegan": "gentoolkit_image.models.cyclegan:CycleGAN",
}

CHECKPOINT_KIND = "gentoolkit-image-model"

__all__ = ["MODEL_FAMILIES", "ImageModel", "bits_per_dim", "model_class", "create_model",
           "save_model", "load_model"]


def model_class(family: str) -> type[ImageModel]:
    """The class of ``family``; UnknownNameError names the known families."""
    if family not in MODEL_FAMILIES:
        raise UnknownNameError("image model", family, MODEL_FAMILIES)
    module, name = MODEL_FAMILIES[family].split(":")
    return getattr(importlib.import_module(module), name)


def create_model(family: str, image_shape: tuple[int, int, int], num_classes: int = 0,
                 **params: Any) -> ImageModel:
    """A fresh, untrained model of ``family`` for images of ``image_shape`` (C, H, W)."""
    return model_class(family)(tuple(image_shape), num_classes=num_classes, **params)


def save_model(model: ImageModel, path: str | os.PathLike, extra_metadata: Mapping[str, Any] | None = None,
               extra_state: Mapping[str, Any] | None = None) -> Any:
    """Write ``model`` (weights plus its config) as a safetensors + JSON checkpoint.

    ``extra_state`` (optimizer states, epoch) is stored beside the weights for resuming.
    """
    metadata = {"kind": CHECKPOINT_KIND, **model.config(), **dict(extra_metadata or {})}
    state = {"model": model.state_dict(), **dict(extra_state or {})}
    return save_checkpoint(path, state, metadata)


def load_model(path: str | os.PathLike, family: str | None = None,
               image_shape: tuple[int, int, int] | None = None, device: str = "cpu",
               return_state: bool = False) -> ImageModel | tuple[ImageModel, dict[str, Any]]:
    """Rebuild the model saved at ``path``; refuse one of another family or image shape.

    With ``return_state`` also returns the rest of the checkpoint state (optimizers, epoch).
    """
    metadata = read_metadata(path)
    if metadata.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(f"Checkpoint {path} is not an image model checkpoint "
                              f"(kind {metadata.get('kind')!r}); give one written by `gentoolkit train image`.")
    expected: dict[str, Any] = {}
    if family is not None:
        expected["family"] = family
    if image_shape is not None:
        expected["image_shape"] = [int(s) for s in image_shape]
    check_compatible(metadata, expected, path)
    model = create_model(metadata["family"], metadata["image_shape"], metadata["num_classes"],
                         **metadata["params"])
    state, _ = load_checkpoint(path, device=device)
    try:
        model.load_state_dict(state.pop("model"))
    except RuntimeError as err:
        raise CheckpointError(f"Checkpoint {path} does not fit a {metadata['family']} model with its own "
                              f"config: {str(err).splitlines()[0]}") from err
    model.to(device)
    return (model, state) if return_state else model
