"""Saving any registered model so that any plugin can load it back: the model card.

A model made by :meth:`gentoolkit.Toolkit.create_model` carries a :class:`ModelCard` (as
``model.model_card``): the registered name, the plugin and its version, the validated params and
the items it works on. :func:`save_model` writes the weights as a gentoolkit checkpoint
(safetensors + JSON) with the card in its metadata; a model saved as a folder (a Hugging Face
model, say) keeps its card in ``FOLDER/gentoolkit_model.json``. ``Toolkit.load_model(path)``
reads the card, finds the model in the registry and rebuilds it, like transformers' ``AutoModel``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from gentoolkit.checkpoint import checkpoint_paths, read_metadata, save_checkpoint
from gentoolkit.errors import CheckpointError
from gentoolkit.protocols import ItemSpec

__all__ = ["ModelCard", "CARD_KEY", "CARD_FILE", "save_model", "read_card", "write_card", "card_of"]

CARD_KEY = "gentoolkit_model"  # the card's key in a checkpoint's metadata
CARD_FILE = "gentoolkit_model.json"  # the card of a model saved as a folder


@dataclass(frozen=True)
class ModelCard:
    """What rebuilds a model: ``Toolkit.models[name].create(**params)`` from ``plugin``."""

    name: str
    plugin: str
    version: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    item_spec: ItemSpec | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "plugin": self.plugin, "version": self.version, "params": dict(self.params),
                "item_spec": self.item_spec.to_json() if self.item_spec else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelCard:
        spec = data.get("item_spec")
        return cls(data["name"], data["plugin"], data.get("version", ""), dict(data.get("params") or {}),
                   ItemSpec.from_json(spec) if spec else None)


def card_of(model: Any) -> ModelCard | None:
    """The card of a model made by ``Toolkit.create_model`` or ``load_model`` (None otherwise)."""
    card = getattr(model, "model_card", None)
    return card if isinstance(card, ModelCard) else None


def save_model(model: Any, path: str | os.PathLike, card: ModelCard | None = None,
               state: Mapping[str, Any] | None = None, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``model.state_dict()`` with its card (and any extra ``state``) as a checkpoint.

    Returns the JSON path, which ``Toolkit.load_model`` accepts.
    """
    card = card or card_of(model)
    if card is None:
        raise CheckpointError("This model has no model card: create it with Toolkit.create_model(name, ...) "
                              "or load it with Toolkit.load_model, so that it can be loaded back by name.")
    return save_checkpoint(path, {"model": model.state_dict(), **dict(state or {})},
                           {**dict(metadata or {}), CARD_KEY: card.to_json()})


def write_card(folder: str | os.PathLike, card: ModelCard) -> Path:
    """Write the card of a model saved as a folder."""
    path = Path(folder) / CARD_FILE
    path.write_text(json.dumps({"format": "gentoolkit-model/1", **card.to_json()}, indent=1) + "\n")
    return path


def read_card(path: str | os.PathLike) -> ModelCard:
    """The card of a saved model: a checkpoint (``NAME``, ``NAME.json``) or a folder with its card."""
    path = Path(path)
    if path.is_dir():
        card_path = path / CARD_FILE
        if not card_path.is_file():
            raise CheckpointError(f"{path} is a folder without {CARD_FILE}: it was not saved by gentoolkit. "
                                  "Give a model folder or checkpoint (NAME.json) that a gentoolkit run wrote.")
        try:
            return ModelCard.from_json(json.loads(card_path.read_text()))
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise CheckpointError(f"Model card {card_path} is corrupt ({err}).") from err
    metadata = read_metadata(path)
    if CARD_KEY not in metadata:
        raise CheckpointError(f"Checkpoint {checkpoint_paths(path)[1]} holds no model card: it is not a saved "
                              "model (it may be another kind of checkpoint, or older than model cards).")
    try:
        return ModelCard.from_json(metadata[CARD_KEY])
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"The model card in {checkpoint_paths(path)[1]} is corrupt ({err}).") from err
