"""Saving a fitted detector as a gentoolkit model: a folder, never a pickle.

``FOLDER/gentoolkit_model.json`` is the card (``Toolkit.load_model`` reads it),
``FOLDER/detector.{safetensors,json}`` the fitted arrays and values, and a generative detector's
models are saved beside them through ``Toolkit.save_model`` (``FOLDER/model.*``, ...), each in
its own plugin's format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gentoolkit.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from gentoolkit.errors import CheckpointError
from gentoolkit.models import ModelCard, write_card

STATE = "detector"
COMMON = ("threshold_", "decision_scores_")


def save_detector(detector: Any, path: str | Path, card: ModelCard | None = None) -> Path:
    """Write the fitted ``detector`` into the folder ``path``; returns the folder."""
    import torch

    detector._check_fitted()
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    arrays, values = detector._save_state(folder)
    tensors = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in arrays.items()}
    tensors["decision_scores_"] = torch.from_numpy(detector.decision_scores_)
    values = {**values, "threshold_": detector.threshold_, "item_shape_": list(detector.item_shape_),
              "scalars": sorted(name for name, value in arrays.items() if np.ndim(value) == 0)}
    save_checkpoint(folder / STATE, {"arrays": tensors}, {"values": values})
    write_card(folder, card or detector.model_card)
    return folder


def load_detector(detector: Any, path: str | Path, toolkit: Any = None, device: str = "cpu") -> Any:
    """Give the unfitted ``detector`` (built from the card's params) the state saved at ``path``."""
    import math

    folder = Path(path)
    try:
        state, _ = load_checkpoint(folder / STATE)
        values = read_metadata(folder / STATE)["values"]
    except KeyError as err:
        raise CheckpointError(f"{folder} holds no fitted detector state ({err}).") from None
    arrays = {name: tensor.numpy() for name, tensor in state["arrays"].items()}
    arrays.update({name: arrays[name].reshape(()) for name in values.get("scalars", [])})  # stored as 1 item
    detector._load_state(folder, arrays, values, toolkit, device)
    detector.decision_scores_ = arrays["decision_scores_"]
    detector.threshold_ = float(values["threshold_"])
    detector.labels_ = (detector.decision_scores_ > detector.threshold_).astype(int)
    detector.item_shape_ = tuple(values["item_shape_"])
    detector.n_features_in_ = math.prod(detector.item_shape_)
    return detector
