"""Checkpoints as safetensors plus JSON, written atomically, never unpickled.

A checkpoint ``NAME`` is two files: ``NAME.safetensors`` holds every tensor, ``NAME.json`` holds
the metadata and the structure of everything else (ints, floats, strings, nested dicts and
lists such as an optimizer's state). Both are written to temporary files and moved into place,
the JSON last, so a killed process never leaves a half-written checkpoint that looks complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from gentoolkit.errors import CheckpointError

__all__ = ["save_checkpoint", "load_checkpoint", "read_metadata", "check_compatible", "checkpoint_paths", "FORMAT"]

FORMAT = "gentoolkit-checkpoint/1"
_TENSOR = "__tensor__"


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """The (safetensors, json) pair for ``path``, given with or without a suffix."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def _flatten(obj: Any, prefix: str, tensors: dict) -> Any:
    """Replace each tensor in a nested structure by a reference, collecting the tensors."""
    import torch

    if isinstance(obj, torch.Tensor):
        key = prefix or "tensor"
        tensors[key] = obj.detach().contiguous().cpu()
        return {_TENSOR: key}
    if isinstance(obj, Mapping):
        return {"__dict__": [[k, _flatten(v, f"{prefix}.{k}" if prefix else str(k), tensors)]
                             for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix!r} in a checkpoint")


def _unflatten(obj: Any, tensors: Mapping[str, Any]) -> Any:
    if isinstance(obj, dict) and _TENSOR in obj:
        return tensors[obj[_TENSOR]]
    if isinstance(obj, dict) and "__dict__" in obj:
        return {k: _unflatten(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any],
                    metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``state`` (nested dicts/lists of tensors and plain values) and ``metadata``.

    Returns the path of the JSON file. Shared tensors (tied weights) are stored once each.
    """
    from safetensors.torch import save_file

    tensors_path, json_path = checkpoint_paths(path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict = {}
    structure = _flatten(dict(state), "", tensors)
    # safetensors refuses tensors that share memory; clone so tied weights save cleanly.
    tensors = {k: v.clone() for k, v in tensors.items()}
    document = {"format": FORMAT, "metadata": dict(metadata or {}), "state": structure}
    _atomic_write(tensors_path, lambda p: save_file(tensors, str(p)))
    _atomic_write(json_path, lambda p: p.write_text(json.dumps(document, indent=1)))
    return json_path


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a checkpoint, without reading its tensors."""
    return _read_document(checkpoint_paths(path)[1])["metadata"]


def _read_document(json_path: Path) -> dict[str, Any]:
    if not json_path.exists():
        raise CheckpointError(f"No checkpoint at {json_path}: the file does not exist.")
    try:
        document = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(
            f"Checkpoint {json_path} is corrupt or truncated ({err}). "
            "Use an earlier checkpoint or start the run again.") from err
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{json_path} is not a gentoolkit checkpoint (no '{FORMAT}' header).")
    return document


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a checkpoint back as ``(state, metadata)``; clear errors for missing or corrupt files."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    tensors_path, json_path = checkpoint_paths(path)
    document = _read_document(json_path)
    if not tensors_path.exists():
        raise CheckpointError(f"Checkpoint {json_path} has no tensor file {tensors_path}.")
    try:
        tensors = load_file(str(tensors_path), device=device)
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"Checkpoint tensors {tensors_path} are corrupt or truncated ({err}). "
            "Use an earlier checkpoint or start the run again.") from err
    try:
        state = _unflatten(document["state"], tensors)
    except KeyError as err:
        raise CheckpointError(f"Checkpoint {tensors_path} lacks tensor {err}: "
                              f"it does not belong with {json_path}.") from err
    return state, document["metadata"]


def check_compatible(metadata: Mapping[str, Any], expected: Mapping[str, Any], path: Any) -> None:
    """Refuse a checkpoint whose metadata disagrees with what the caller expects (model, shape)."""
    wrong = {k: (metadata.get(k), v) for k, v in expected.items() if metadata.get(k) != v}
    if wrong:
        detail = "; ".join(f"{k}: checkpoint has {got!r}, expected {want!r}" for k, (got, want) in wrong.items())
        raise CheckpointError(f"Checkpoint {path} was made for another model ({detail}).")
