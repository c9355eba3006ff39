"""Reading items from files: arrays (.npy, .csv, ODDS .mat), images, strings, labelled tables.

``.npy`` holds an array (n, ...) (loaded without pickle); ``.csv``/``.tsv`` one item per row of
numbers (a non-numeric first row is taken as a header); ``.mat`` an ODDS benchmark file (its
``X``; scipy.io.loadmat); ``.png``/``.jpg``/... one image each, in [0, 1], grey or RGB as the
detector's items are; ``.smi``/``.txt`` one string per line. :func:`read_labelled` reads a table
with anomaly labels (ODDS ``.mat``: ``X`` and ``y``; ``.csv``: a label column) for ``run anomaly``.
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
        if suffix == ".mat":
            return _read_mat(path)[0]
        if suffix in IMAGES:
            return _read_image(path, item_shape)
        if suffix in STRINGS:
            return [line.split()[0] if suffix != ".txt" else line for line in path.read_text().splitlines()
                    if line.strip()]
    except (OSError, ValueError) as err:
        raise AnomalyInputError(f"{path} could not be read as {suffix} ({err}).") from None
    raise AnomalyInputError(f"{path}: unknown file type {suffix!r}; give .npy, .csv, .tsv, .mat, an image "
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


def read_labelled(path: Path, label_column: str = "label") -> tuple[np.ndarray, np.ndarray]:
    """Items (n, features) and labels (n,), 1 = anomaly, from an ODDS ``.mat`` file (``X``, ``y``)
    or a ``.csv``/``.tsv`` table with a header row whose column ``label_column`` holds the labels."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise AnomalyInputError(f"{path}: no such file. Give an ODDS .mat file or a .csv table with a "
                                f"{label_column!r} column.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".mat":
            X, y = _read_mat(path)
        elif suffix in (".csv", ".tsv"):
            X, y = _read_labelled_table(path, "," if suffix == ".csv" else "\t", label_column)
        else:
            raise AnomalyInputError(f"{path}: a labelled table is an ODDS .mat file or a .csv/.tsv table, not "
                                    f"{suffix!r}.")
    except (OSError, ValueError) as err:
        raise AnomalyInputError(f"{path} could not be read as {suffix} ({err}).") from None
    if y is None:
        raise AnomalyInputError(f"{path} has no labels (y): the benchmark needs them (1 = anomaly, 0 = normal).")
    y = np.asarray(y, dtype=np.float64).ravel()
    if len(y) != len(X) or len(X) == 0:
        raise AnomalyInputError(f"{path} holds {len(X)} items and {len(y)} labels: give one label per item.")
    if not np.isin(y, (0, 1)).all() or not 0 < y.sum() < len(y):
        raise AnomalyInputError(f"{path}: labels must be 0 (normal) or 1 (anomaly), with some of each; got "
                                f"values {sorted(set(y.tolist()))[:5]}.")
    return X, y.astype(int)


def _read_mat(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """``X`` (n, features) and ``y`` (or None) of an ODDS .mat file (MATLAB 5; not v7.3 HDF5)."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        data = loadmat(path)
    except (MatReadError, NotImplementedError, TypeError) as err:
        raise AnomalyInputError(f"{path} is not a MATLAB 5 .mat file scipy can read ({err}). A v7.3 file is HDF5: "
                                "convert it, e.g. to .csv with a label column.") from None
    if "X" not in data:
        keys = ", ".join(k for k in data if not k.startswith("__")) or "none"
        raise AnomalyInputError(f"{path} has no variable X (ODDS files hold X and y); its variables: {keys}.")
    X = np.asarray(data["X"], dtype=np.float64)
    return (X.reshape(len(X), -1) if X.ndim != 2 else X), data.get("y")


def _read_labelled_table(path: Path, delimiter: str, label_column: str) -> tuple[np.ndarray, np.ndarray]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    header = [name.strip() for name in lines[0].split(delimiter)] if lines else []
    if label_column not in header:
        raise AnomalyInputError(f"{path} has no {label_column!r} column in its header row ({', '.join(header[:8])}"
                                f"{', ...' if len(header) > 8 else ''}); name the label column with label_column.")
    table = np.loadtxt(lines[1:], delimiter=delimiter, ndmin=2) if len(lines) > 1 else np.empty((0, len(header)))
    column = header.index(label_column)
    return np.delete(table, column, axis=1), table[:, column]


def string_kind(path: str | Path) -> str:
    """``smiles`` for a .smi/.smiles file, ``text`` for .txt, "" for any other file."""
    suffix = Path(path).suffix.lower()
    return "smiles" if suffix in (".smi", ".smiles") else "text" if suffix == ".txt" else ""


def read_strings(path: str | Path, labelled: bool = False) -> tuple[list[str], np.ndarray | None]:
    """The items of a .smi/.smiles file (one SMILES a line, an optional name after it) or a .txt file
    (one text a line), and with ``labelled`` their labels: each line ends in 0 (normal) or 1
    (anomaly), after whitespace in a SMILES file, after a tab in a text file. Every SMILES is
    parsed with RDKit; the first that does not parse is named with its line number."""
    path = Path(path).expanduser()
    kind = string_kind(path)
    if not path.is_file():
        raise AnomalyInputError(f"{path}: no such file.")
    if not kind:
        raise AnomalyInputError(f"{path}: SMILES come in .smi/.smiles files and texts in .txt files, not "
                                f"{path.suffix!r}.")
    items, labels = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        item = line.strip()
        if labelled:
            if kind == "text":
                item, _, label = item.rpartition("\t")
            else:
                fields = item.split()
                item, label = fields[0], fields[-1] if len(fields) > 1 else ""
            if label.strip() not in ("0", "1") or not item.strip():
                sep = "a tab" if kind == "text" else "whitespace"
                raise AnomalyInputError(f"{path}, line {number}: a labelled file has the item, {sep} and a label 0 "
                                        f"(normal) or 1 (anomaly) on each line; got {line.strip()[:80]!r}.")
            labels.append(int(label))
        elif kind == "smiles":
            item = item.split()[0]
        items.append(item.strip())
        if kind == "smiles":
            _check_smiles(path, number, items[-1])
    if not items:
        raise AnomalyInputError(f"{path} is empty: it holds no {'SMILES' if kind == 'smiles' else 'texts'} "
                                "(blank lines are skipped).")
    if labelled and len(set(labels)) < 2:
        raise AnomalyInputError(f"{path}: the labels are all {labels[0]}; a test file needs normal (0) and "
                                "anomalous (1) items.")
    return items, (np.asarray(labels) if labelled else None)


def _check_smiles(path: Path, number: int, smiles: str) -> None:
    try:
        from rdkit import Chem, RDLogger
    except ImportError:
        raise AnomalyInputError(f"{path} holds SMILES, which are checked with RDKit: install the molecules plugin "
                                "or `pip install rdkit`.") from None
    RDLogger.DisableLog("rdApp.*")
    if Chem.MolFromSmiles(smiles) is None:
        raise AnomalyInputError(f"{path}, line {number}: {smiles!r} is not a valid SMILES (RDKit cannot parse it). "
                                "Fix or remove that line.")
