"""Checkpoints as safetensors plus JSON, written atomically, never unpickled.

A checkpoint ``NAME`` is two files: ``NAME.safetensors`` holds every tensor, ``NAME.json`` holds
the metadata and the structure of everything else (ints, floats, strings, nested dicts and
lists such as an optimizer's state). Both carry one random nonce per save, so a reader never
pairs tensors of one save with metadata of another. While a save replaces an existing pair, that
pair stays readable as ``NAME.prev.*``; a process killed between the two files is resumed from it.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any, Mapping

from gentoolkit.errors import CheckpointError

__all__ = ["save_checkpoint", "load_checkpoint", "read_metadata", "check_compatible", "checkpoint_paths", "FORMAT"]

FORMAT = "gentoolkit-checkpoint/1"
_TENSOR = "__tensor__"
_NONCE = "gentoolkit_nonce"  # key of the shared nonce in the safetensors header and the JSON document
PREVIOUS = ".prev"  # NAME.prev.*: the last complete pair, kept while NAME is being replaced


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


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def previous_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """The ``NAME.prev`` pair that stands in for ``path`` while a save replaces it."""
    base = checkpoint_paths(path)[1].with_suffix("")
    return checkpoint_paths(base.with_name(base.name + PREVIOUS))


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any],
                    metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``state`` (nested dicts/lists of tensors and plain values) and ``metadata``.

    Returns the path of the JSON file. Shared tensors (tied weights) are stored once each. Both
    files are staged first, then moved into place tensors first; the old pair is linked to
    ``NAME.prev.*`` until the new one is complete.
    """
    from safetensors.torch import save_file

    pair, previous = checkpoint_paths(path), previous_paths(path)
    pair[1].parent.mkdir(parents=True, exist_ok=True)
    tensors: dict = {}
    structure = _flatten(dict(state), "", tensors)
    # safetensors refuses tensors that share memory; clone so tied weights save cleanly.
    tensors = {k: v.clone() for k, v in tensors.items()}
    nonce = uuid.uuid4().hex
    document = {"format": FORMAT, "nonce": nonce, "metadata": dict(metadata or {}), "state": structure}
    staged = [_temporary(p) for p in pair]
    try:
        save_file(tensors, str(staged[0]), metadata={_NONCE: nonce})
        staged[1].write_text(json.dumps(document, indent=1))
        if _matching(pair):
            for current, kept in zip(pair, previous):
                _link(current, kept)
        for tmp, final in zip(staged, pair):
            os.replace(tmp, final)
    finally:
        for tmp in staged:
            tmp.unlink(missing_ok=True)
    for kept in reversed(previous):  # JSON first: a lone .prev.safetensors is never taken for a pair
        kept.unlink(missing_ok=True)
    for final in (*pair, *previous):  # staged files a killed save left behind
        for stale in final.parent.glob(f".{final.name}.tmp*"):
            stale.unlink(missing_ok=True)
    return pair[1]


def _link(source: Path, target: Path) -> None:
    """Make ``target`` a second name of ``source`` (a copy where hard links are not supported)."""
    tmp = _temporary(target)
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copy2(source, tmp)
    os.replace(tmp, target)


def pickle_format(path: Path) -> str | None:
    """What a file is when its first bytes say pickle: a torch.save zip or a bare pickle; else None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return None
    if head.startswith(b"PK\x03\x04") and path.suffix.lower() in (".pt", ".pth", ".bin", ".ckpt", ".tar", ""):
        return "a PyTorch file (torch.save: a zip holding a pickle)"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return f"a Python pickle (protocol {head[1]})"
    return None


def _refuse_pickle(path: Path) -> None:
    """A pickle given where a checkpoint is expected is named as such, and never unpickled."""
    if path.is_file() and (kind := pickle_format(path)):
        raise CheckpointError(f"{path} is {kind}, not a gentoolkit checkpoint; gentoolkit never unpickles "
                              "files, since that can run code. Give NAME.json of a checkpoint gentoolkit saved "
                              "(safetensors + JSON), or convert the weights to safetensors where you trust them.")


def _read_document(json_path: Path) -> dict[str, Any]:
    if not json_path.exists():
        raise CheckpointError(f"No checkpoint at {json_path}: the file does not exist.")
    _refuse_pickle(json_path)
    try:
        document = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(
            f"Checkpoint {json_path} is corrupt or truncated ({err}). "
            "Use an earlier checkpoint or start the run again.") from err
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{json_path} is not a gentoolkit checkpoint (no '{FORMAT}' header).")
    return document


def _read_pair(pair: tuple[Path, Path], device: str | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The JSON document and, if ``device`` is given, the tensors of one pair, checked to belong together.

    Pairs written before nonces existed have none in either file and are taken as they are.
    """
    from safetensors import SafetensorError, safe_open

    tensors_path, json_path = pair
    document = _read_document(json_path)
    if not tensors_path.exists():
        raise CheckpointError(f"Checkpoint {json_path} has no tensor file {tensors_path}.")
    try:
        with safe_open(str(tensors_path), framework="pt", device=device or "cpu") as file:
            nonce = (file.metadata() or {}).get(_NONCE)
            tensors = {key: file.get_tensor(key) for key in file.keys()} if device else None
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"Checkpoint tensors {tensors_path} are corrupt or truncated ({err}). "
            "Use an earlier checkpoint or start the run again.") from err
    if nonce != document.get("nonce"):
        raise CheckpointError(
            f"Checkpoint files {tensors_path} and {json_path} come from different saves (a process was "
            "killed between writing them), so their tensors and metadata do not belong together. "
            "Delete or move both files to start without this checkpoint.")
    return document, tensors


def _matching(pair: tuple[Path, Path]) -> bool:
    try:
        _read_pair(pair, None)
    except CheckpointError:
        return False
    return True


def _open(path: str | os.PathLike, device: str | None) -> tuple[Path, dict[str, Any], dict[str, Any] | None]:
    """The newest readable, matching pair for ``path``: NAME, else NAME.prev (with a warning)."""
    _refuse_pickle(Path(path))
    pair = checkpoint_paths(path)
    try:
        return pair[1], *_read_pair(pair, device)
    except CheckpointError as err:
        previous = previous_paths(path)
        try:
            found = _read_pair(previous, device)
        except CheckpointError:
            raise err from None
        warnings.warn(f"{err} Using the previous complete checkpoint {previous[1]} instead.", stacklevel=3)
        return previous[1], *found


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """The JSON path of the pair :func:`load_checkpoint` would read for ``path``."""
    return _open(path, None)[0]


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a checkpoint, reading only the tensor file's header."""
    return _open(path, None)[1]["metadata"]


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a checkpoint back as ``(state, metadata)``; clear errors for missing, corrupt or mismatched files."""
    json_path, document, tensors = _open(path, device)
    try:
        state = _unflatten(document["state"], tensors)
    except KeyError as err:
        raise CheckpointError(f"Checkpoint {json_path.with_suffix('.safetensors')} lacks tensor {err}: "
                              f"it does not belong with {json_path}.") from err
    return state, document["metadata"]


def check_compatible(metadata: Mapping[str, Any], expected: Mapping[str, Any], path: Any) -> None:
    """Refuse a checkpoint whose metadata disagrees with what the caller expects (model, shape)."""
    wrong = {k: (metadata.get(k), v) for k, v in expected.items() if metadata.get(k) != v}
    if wrong:
        detail = "; ".join(f"{k}: checkpoint has {got!r}, expected {want!r}" for k, (got, want) in wrong.items())
        raise CheckpointError(f"Checkpoint {path} was made for another model ({detail}).")
