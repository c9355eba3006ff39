"""Labelled tables: scikit-learn's bundled breast-cancer and wine sets, and a user's CSV.

A :class:`Table` holds the feature matrix (numbers; a categorical column holds category codes),
the integer labels, the column metadata and the class names. Its items are ``(x, label)`` with
``x`` a float tensor (D,), the same vector a tabular model's ``sample`` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gentoolkit import ConfigError, ItemSpec, UnknownNameError
from gentoolkit.errors import skip_bad_records

SPLITS = ("train", "test", "all")


class TabularDataError(ConfigError):
    """A table that cannot be used: empty, no label column, garbage in a numeric column, one class."""


@dataclass(frozen=True)
class Column:
    """One feature column: ``numeric`` (``integer`` when every value is whole) or ``categorical``."""

    name: str
    kind: str  # "numeric" | "categorical"
    categories: tuple[str, ...] = ()  # categorical: the category of each code 0..K-1
    integer: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "categories": list(self.categories), "integer": self.integer}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Column:
        return cls(data["name"], data["kind"], tuple(data.get("categories") or ()), bool(data.get("integer")))


@dataclass
class Table:
    """Rows of features (N, D) with integer labels (N,), column metadata and class names."""

    features: np.ndarray  # (N, D) float64; categorical columns hold codes 0..K-1
    labels: np.ndarray  # (N,) int64, index into classes
    columns: list[Column]
    classes: list[str]
    label_name: str = "label"
    name: str = ""

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        import torch

        return torch.as_tensor(self.features[i], dtype=torch.float32), torch.as_tensor(self.labels[i])

    @property
    def item_spec(self) -> ItemSpec:
        return ItemSpec("tabular", (len(self.columns),), classes=tuple(self.classes))

    @property
    def numeric(self) -> list[int]:
        return [j for j, c in enumerate(self.columns) if c.kind == "numeric"]

    @property
    def categorical(self) -> list[int]:
        return [j for j, c in enumerate(self.columns) if c.kind == "categorical"]

    def subset(self, index: Sequence[int] | np.ndarray) -> Table:
        index = np.asarray(index, dtype=np.int64)
        return Table(self.features[index], self.labels[index], self.columns, self.classes, self.label_name,
                     self.name)

    def with_rows(self, features: Any, labels: Any) -> Table:
        """A table of other rows (a model's samples) with this table's columns and classes."""
        return Table(np.asarray(features, dtype=np.float64), np.asarray(labels, dtype=np.int64), self.columns,
                     self.classes, self.label_name, self.name)

    def frame(self) -> Any:
        """A pandas DataFrame: numeric columns, categorical columns as their category strings, the label."""
        import pandas as pd

        data = {}
        for j, column in enumerate(self.columns):
            values = self.features[:, j]
            if column.kind == "categorical":
                data[column.name] = np.asarray(column.categories, dtype=object)[values.astype(np.int64)]
            else:
                data[column.name] = values.astype(np.int64) if column.integer else values
        data[self.label_name] = np.asarray(self.classes, dtype=object)[self.labels]
        return pd.DataFrame(data)


def split(table: Table, split_name: str, test_size: float, seed: int) -> Table:
    """The ``train``/``test`` part of a deterministic split stratified by label, or ``all``."""
    from sklearn.model_selection import train_test_split

    if split_name not in SPLITS:
        raise UnknownNameError("split", split_name, SPLITS)
    if split_name == "all":
        return table
    if not 0 < test_size < 1:
        raise TabularDataError(f"test_size must be between 0 and 1 (a share of the rows), got {test_size}.")
    counts = np.bincount(table.labels, minlength=len(table.classes))
    if counts.min() < 2:
        small = table.classes[int(np.argmin(counts))]
        raise TabularDataError(f"{table.name}: class {small!r} has {counts.min()} row(s); a stratified "
                               "train/test split needs at least 2 per class. Add rows or drop that class.")
    train, test = train_test_split(np.arange(len(table)), test_size=test_size, random_state=seed,
                                   stratify=table.labels)
    return table.subset(np.sort(train if split_name == "train" else test))


def load_sklearn(name: str, split_name: str = "train", test_size: float = 0.3, seed: int = 0) -> Table:
    """scikit-learn's bundled ``breast-cancer`` (569 rows, 30 numeric columns, 2 classes) or ``wine``
    (178 rows, 13 numeric columns, 3 classes); nothing is downloaded."""
    from sklearn import datasets

    bunch = {"breast-cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}[name]()
    features = np.asarray(bunch.data, dtype=np.float64)
    columns = [Column(str(n), "numeric", integer=bool(np.all(features[:, j] == np.round(features[:, j]))))
               for j, n in enumerate(bunch.feature_names)]
    table = Table(features, np.asarray(bunch.target, dtype=np.int64), columns, [str(c) for c in bunch.target_names],
                  "target", name)
    return split(table, split_name, test_size, seed)


def load_csv(path: str = "", label: str = "label", categorical: Sequence[str] = (), numeric: Sequence[str] = (),
             split_name: str = "all", test_size: float = 0.3, seed: int = 0, strict: bool = False) -> Table:
    """A user's CSV with a ``label`` column. Columns of text are categorical, columns of numbers
    numeric; ``categorical``/``numeric`` name columns to treat otherwise (codes as categories, say).
    Rows with an empty cell are skipped with a warning (``strict``: refused)."""
    import pandas as pd

    file = Path(path)
    if not path or not file.is_file():
        raise TabularDataError(f"CSV file {path!r} does not exist; give the path of a CSV with a header row "
                               f"and a label column (dataset param path=...).")
    try:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise TabularDataError(f"CSV file {file} is empty: it needs a header row and data rows.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise TabularDataError(f"CSV file {file} could not be parsed ({str(err).splitlines()[0]}).") from None
    if label not in frame.columns:
        raise TabularDataError(f"CSV file {file} has no label column {label!r}; its columns are "
                               f"{', '.join(map(str, frame.columns))}. Name the label column with label=...")
    for given in (*categorical, *numeric):
        if given not in frame.columns or given == label:
            raise TabularDataError(f"CSV file {file}: {given!r} is not a feature column; the feature columns are "
                                   f"{', '.join(c for c in frame.columns if c != label)}.")
    frame = _drop_incomplete(frame, file, strict)
    if frame.shape[1] < 2:
        raise TabularDataError(f"CSV file {file} has only the label column; it needs feature columns too.")
    columns, features = [], []
    for name in (c for c in frame.columns if c != label):
        column, values = _column(frame[name], file, name, name in categorical, name in numeric)
        columns.append(column)
        features.append(values)
    classes, labels = np.unique(frame[label].to_numpy(dtype=str), return_inverse=True)
    if len(classes) < 2:
        raise TabularDataError(f"CSV file {file}: the label column {label!r} holds one class ({classes[0]!r}); "
                               "a class-conditional model and a classifier need at least two.")
    table = Table(np.stack(features, axis=1), labels.astype(np.int64), columns, [str(c) for c in classes], label,
                  file.stem)
    return split(table, split_name, test_size, seed)


def _drop_incomplete(frame: Any, file: Path, strict: bool) -> Any:
    if len(frame) == 0:
        raise TabularDataError(f"CSV file {file} has a header but no data rows.")
    empty = frame.apply(lambda col: col.str.strip() == "")
    bad_rows = np.flatnonzero(empty.any(axis=1).to_numpy())
    bad = [(f"line {i + 2}", f"column {frame.columns[np.argmax(empty.iloc[i].to_numpy())]!r} is empty")
           for i in bad_rows]
    skip_bad_records(str(file), bad, len(frame), strict, "rows", TabularDataError)
    return frame.drop(index=frame.index[bad_rows]).reset_index(drop=True)


def _column(values: Any, file: Path, name: str, as_categorical: bool, as_numeric: bool) -> tuple[Column, np.ndarray]:
    """The column's metadata and its values as numbers (codes for a categorical column)."""
    import pandas as pd

    parsed = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    garbage = np.flatnonzero(~np.isfinite(parsed))
    numeric = as_numeric or (not as_categorical and len(garbage) < max(1, 0.1 * len(values)))
    if numeric and len(garbage):
        row = garbage[0]
        raise TabularDataError(
            f"CSV file {file}, column {name!r}: {len(garbage)} value(s) are not numbers, the first "
            f"{values.iloc[row]!r} at line {row + 2}. Fix them, or list the column in categorical=[...] if it "
            "holds categories.")
    if numeric:
        return Column(name, "numeric", integer=bool(np.all(parsed == np.round(parsed)))), parsed
    categories, codes = np.unique(values.str.strip().to_numpy(dtype=str), return_inverse=True)
    return Column(name, "categorical", tuple(str(c) for c in categories)), codes.astype(np.float64)
