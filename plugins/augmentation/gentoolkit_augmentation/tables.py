"""``gentoolkit augment --data table.csv --label COLUMN``: an augmented copy of a labelled CSV.

The same pipeline as for image folders (:func:`experiment.synthesise`, then :func:`pipeline.mix`):
a class-conditional tabular generator from the registry (``tabular-tvae`` by default) trains on
the table loaded by the registry's ``csv`` dataset (numeric and categorical columns typed), its
samples are filtered (classifier confidence and per-class k-NN manifold, on standardised numbers
and one-hot categories) and mixed in at a ratio. The output CSV holds every input row as read, then
the synthetic rows, with provenance columns; the trained generator and ``augment.json`` sit beside it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np

from gentoolkit_augmentation.folder import AugmentOptions, check_out
from gentoolkit_augmentation.pipeline import AugmentationError

PROVENANCE_COLUMNS = ("synthetic", "model", "seed", "source_line")  # appended to the input's header
NUMBER = re.compile(r"[+-]?\d*(?:\.(?P<fraction>\d*))?(?P<exponent>[eE][+-]?\d+)?")
GENERATOR = "generator"  # the trained generator's checkpoint in --out: generator.json + .safetensors


def augment_table(toolkit: Any, data: Path, out: Path, label: str, options: AugmentOptions,
                  force: bool = False) -> dict[str, Any]:
    """Write ``out/<name>.csv`` (input rows, then synthetic rows; ``synthetic`` 0/1, ``model``,
    ``seed``, ``source_line`` of a real row), the generator and ``augment.json``; returns the
    paths, the real count, synthetic rows written per class, and how many were generated and kept."""
    from gentoolkit_augmentation import experiment, pipeline

    if not data.is_file():
        raise AugmentationError(f"--data {data} is not a file; give a CSV with a header row and a label column.")
    check_out(data, out, force)
    if not options.ratio > 0:
        raise AugmentationError(f"--ratio {options.ratio}: give a ratio > 0 (synthetic rows per real row).")
    header, rows = _read(data)
    taken = [c for c in PROVENANCE_COLUMNS if c in header]
    if taken:
        raise AugmentationError(f"CSV file {data} already has the column(s) {', '.join(map(repr, taken))} that "
                                f"augment adds ({', '.join(PROVENANCE_COLUMNS)}); augment the original table, or "
                                "rename those columns.")
    table = toolkit.load_dataset("csv", path=str(data), label=label)
    pipeline.check_labels(table.labels, table.classes, f"CSV file {data} (label column {label!r})")
    generator, fake, fake_y, keep = experiment.synthesise(toolkit, options.config(), table.features, table.labels,
                                                          list(table.classes), options.seed, options.device,
                                                          data=table, features=_featurizer(table))
    mixed_x, mixed_y, synthetic = pipeline.mix(table.features, table.labels, fake[keep], fake_y[keep], options.ratio,
                                               options.seed)
    new_x, new_y = mixed_x[synthetic], mixed_y[synthetic]
    new_rows = _format(table.with_rows(new_x, new_y).frame(), header, _decimals(header, rows))

    if out.exists() and force:
        shutil.rmtree(out)
    out.mkdir(parents=True)
    target = out / data.name
    with target.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*header, *PROVENANCE_COLUMNS])
        writer.writerows([*row, 0, "", "", line] for line, row in rows)
        writer.writerows([*row, 1, options.model, options.seed, ""] for row in new_rows)
    checkpoint = toolkit.save_model(generator, out / GENERATOR)
    counts = {name: int((new_y == c).sum()) for c, name in enumerate(table.classes)}
    record = {"input": str(data.resolve()), "input_sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
              "label": label, "output": target.name, "generator": checkpoint.name, "options": options.__dict__,
              "real_rows": len(rows), "training_rows": len(table), "generated": len(fake_y),
              "kept": int(keep.sum()), "synthetic": counts}
    (out / "augment.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
    return {"output": target, "manifest": target, "generator": checkpoint, "real": len(rows), "synthetic": counts,
            "generated": len(fake_y), "kept": int(keep.sum())}


def _read(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and every data row as written, each with its line number in the file."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise AugmentationError(f"CSV file {path} is empty: it needs a header row and data rows.")
        rows = []
        for row in reader:
            if row:
                rows.append((reader.line_num, row))
    return header, rows


def _featurizer(table: Any) -> Callable[[np.ndarray], np.ndarray]:
    """Rows as the filter sees them: numeric columns standardised on the real rows, categorical
    columns one-hot (every category of the column, so a sample's code always has a place)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [j for j, c in enumerate(table.columns) if c.kind == "numeric"]
    categorical = [j for j, c in enumerate(table.columns) if c.kind != "numeric"]
    steps = [("numeric", StandardScaler(), numeric)] if numeric else []
    if categorical:
        levels = [list(range(len(table.columns[j].categories))) for j in categorical]
        steps.append(("categorical", OneHotEncoder(categories=levels, handle_unknown="ignore", sparse_output=False),
                      categorical))
    encoder = ColumnTransformer(steps).fit(np.asarray(table.features, dtype=np.float64))
    return lambda rows: encoder.transform(np.asarray(rows, dtype=np.float64))


def _decimals(header: list[str], rows: list[tuple[int, list[str]]]) -> dict[str, int]:
    """Per column, the most digits after the decimal point among its values (to write samples
    alike); -1 for a column with a number in exponent form (samples then get 6 significant digits)."""
    most = {name: 0 for name in header}
    for _, row in rows:
        for name, value in zip(header, row):
            number = NUMBER.fullmatch(value.strip())
            if number and number["exponent"]:
                most[name] = -1
            elif number and most[name] >= 0:
                most[name] = max(most[name], len(number["fraction"] or ""))
    return most


def _format(frame: Any, header: list[str], decimals: dict[str, int]) -> list[list[str]]:
    """Synthetic rows in the input's column order, numbers with as many decimals as the input has."""
    columns = []
    for name in header:
        values = frame[name].to_numpy()
        if values.dtype.kind == "f":
            form = ".6g" if decimals[name] < 0 else f".{decimals[name]}f"
            columns.append([f"{v:{form}}" for v in values])
        else:
            columns.append([str(v) for v in values])
    return [list(row) for row in zip(*columns)]
