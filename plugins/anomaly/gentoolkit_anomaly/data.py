"""Reading the items a user wants scored from files: arrays (.npy, .csv), images, strings.

``.npy`` holds an array (n, ...) (loaded without pickle); ``.csv``/``.tsv`` one item per row of
numbers (a non-numeric first row is taken as a header); ``.png``/``.jpg``/... one image each, in
[0, 1], grey or RGB as the detector's items are; ``.smi``/``.txt`` one string per line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gentoolkit_anomaly.errors import AnomalyInputError

IMAGES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
STRINGS = (".smi", ".txt", ".smiles")


def read_items(path: Path, item_shape: tuple[int, ...]) -> Any:
    """The items in the file ``path``: an array (n, ...) or a list of strings."""
    if not path.is_file():
        raise AnomalyInputError(f"{path}: no such file.")
    items = _read(path, item_shape)
    if len(items) == 0:
        raise AnomalyInputError(f"{path} is empty: it holds no items to score.")
    return items


def _read(path: Path, item_shape: tuple[int, ...]) -> Any:
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
            return array.reshape(1, -1) if array.ndim == 1 else array
        if suffix in (".csv", ".tsv"):
            return _read_table(path, "," if suffix == ".csv" else "\t")
        if suffix in IMAGES:
            return _read_image(path, item_shape)
        if suffix in STRINGS:
            return [line.split()[0] if suffix != ".txt" else line for line in path.read_text().splitlines()
                    if line.strip()]
    except (OSError, ValueError) as err:
        raise AnomalyInputError(f"{path} could not be read as {suffix} ({err}).") from None
    raise AnomalyInputError(f"{path}: unknown file type {suffix!r}; give .npy, .csv, .tsv, an image "
                            f"({', '.join(IMAGES)}) or strings ({', '.join(STRINGS)}).")


def _read_table(path: Path, delimiter: str) -> np.ndarray:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if lines:
        try:
            [float(v) for v in lines[0].split(delimiter)]
        except ValueError:
            lines = lines[1:]  # a header row
    return np.loadtxt(lines, delimiter=delimiter, ndmin=2) if lines else np.empty((0, 0))


def _read_image(path: Path, item_shape: tuple[int, ...]) -> np.ndarray:
    from PIL import Image

    channels = item_shape[0] if len(item_shape) == 3 else 1
    with Image.open(path) as image:
        image = image.convert("L" if channels == 1 else "RGB")
        if len(item_shape) >= 2 and image.size != (item_shape[-1], item_shape[-2]):
            image = image.resize((item_shape[-1], item_shape[-2]), Image.BILINEAR)
        array = np.asarray(image, dtype=np.float64) / 255.0
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return array[None]
