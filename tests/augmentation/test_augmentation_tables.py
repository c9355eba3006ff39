"""``gentoolkit augment --data table.csv``: a tabular generator from the registry, the filters, and
an augmented CSV whose provenance columns mark the synthetic rows; the input is never touched."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gentoolkit import GentoolkitError
from gentoolkit_augmentation.folder import AugmentOptions
from gentoolkit_augmentation.tables import PROVENANCE_COLUMNS, augment_table

TINY = {"embedding_dim": 8, "compress_dims": [32], "decompress_dims": [32]}
FAST = AugmentOptions(model="tabular-tvae", params=TINY, epochs=150, batch_size=20, k=3, ratio=1.0, confidence=0.0,
                      knn=0)


@pytest.fixture(scope="module")
def table_kit():
    import gentoolkit_augmentation
    import gentoolkit_tabular
    from gentoolkit import Toolkit

    return Toolkit(plugins=[gentoolkit_augmentation, gentoolkit_tabular], entrypoints=False)


@pytest.fixture
def table(tmp_path) -> Path:
    """60 rows: a numeric size (two decimals) and an integer count that shift with the class, a
    categorical colour whose shares depend on it, and the class in the column ``kind``."""
    rng = np.random.default_rng(0)
    lines = ["size,count,colour,kind"]
    for i in range(60):
        cat = i % 2
        colour = rng.choice(["red", "blue"], p=[0.8, 0.2] if cat else [0.2, 0.8])
        lines.append(f"{rng.normal(5 * cat, 1):.2f},{rng.poisson(2 + 6 * cat)},{colour},{'cat' if cat else 'dog'}")
    path = tmp_path / "pets.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def read(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(newline="")))


def test_augment_a_csv_keeps_every_input_row_and_appends_marked_synthetic_rows(table_kit, table, tmp_path):
    before = hashlib.sha256(table.read_bytes()).hexdigest()
    source = read(table)
    result = augment_table(table_kit, table, tmp_path / "out", "kind", FAST)
    assert hashlib.sha256(table.read_bytes()).hexdigest() == before
    rows = read(tmp_path / "out" / "pets.csv")
    assert list(rows[0]) == ["size", "count", "colour", "kind", *PROVENANCE_COLUMNS]
    real, fake = rows[:60], rows[60:]
    assert [{k: r[k] for k in source[0]} for r in real] == source  # every input row, as written
    assert all(r["synthetic"] == "0" and r["model"] == "" for r in real)
    assert [r["source_line"] for r in real] == [str(i) for i in range(2, 62)]
    assert len(fake) == 60 and result["synthetic"] == {"cat": 30, "dog": 30}  # ratio 1, filters off, even classes
    assert {(r["synthetic"], r["model"], r["seed"], r["source_line"]) for r in fake} == {("1", "tabular-tvae", "0", "")}
    assert {r["colour"] for r in fake} <= {"red", "blue"} and {r["kind"] for r in fake} == {"cat", "dog"}
    assert all(len(r["size"].split(".")[1]) == 2 for r in fake)  # written with the input's decimals
    assert all(r["count"].lstrip("-").isdigit() for r in fake)  # an integer column stays integer
    # the generator learnt the class-conditional shift of size (cats ~5, dogs ~0)
    size = {k: np.mean([float(r["size"]) for r in fake if r["kind"] == k]) for k in ("cat", "dog")}
    assert size["cat"] - size["dog"] > 2.5
    record = json.loads((tmp_path / "out" / "augment.json").read_text())
    assert record["input_sha256"] == before and record["generated"] == 180 and record["kept"] == 180
    generator = table_kit.load_model(result["generator"])  # the saved generator, back through the registry
    assert generator.item_spec.classes == ("cat", "dog") and generator.sample(4, condition=0).shape == (4, 3)


def test_the_filters_drop_samples_of_an_untrained_generator(table_kit, table, tmp_path):
    strict = AugmentOptions(**{**FAST.__dict__, "model": "tabular-ctgan", "epochs": 1, "confidence": 0.9, "knn": 1,
                               "params": {"embedding_dim": 8, "generator_dim": [16], "discriminator_dim": [16],
                                          "pac": 2}})
    result = augment_table(table_kit, table, tmp_path / "out", "kind", strict)
    assert result["generated"] == 180 and result["kept"] < 60
    rows = read(tmp_path / "out" / "pets.csv")
    assert len(rows) == 60 + sum(result["synthetic"].values()) and {r["model"] for r in rows[60:]} <= {"tabular-ctgan"}


def test_bad_tables_are_refused_with_what_to_do(table_kit, table, tmp_path):
    with pytest.raises(GentoolkitError, match="no label column 'species'"):
        augment_table(table_kit, table, tmp_path / "a", "species", FAST)
    with pytest.raises(GentoolkitError, match="ratio"):
        augment_table(table_kit, table, tmp_path / "b", "kind", AugmentOptions(model="tabular-tvae", ratio=0))
    lonely = tmp_path / "lonely.csv"
    lonely.write_text(table.read_text() + "1.00,3,red,hamster\n")
    with pytest.raises(GentoolkitError, match="'hamster' have one item"):
        augment_table(table_kit, lonely, tmp_path / "c", "kind", FAST)
    marked = tmp_path / "marked.csv"
    marked.write_text("size,synthetic,kind\n1,0,a\n2,0,a\n3,0,b\n4,0,b\n")
    with pytest.raises(GentoolkitError, match="already has the column"):
        augment_table(table_kit, marked, tmp_path / "d", "kind", FAST)
    with pytest.raises(GentoolkitError, match="overlaps the input"):
        augment_table(table_kit, table, table.parent, "kind", FAST, force=True)
    assert not any((tmp_path / name).exists() for name in "abcd")


def test_the_command_line_augments_a_csv(table, tmp_path):
    out = tmp_path / "augmented"
    done = subprocess.run([sys.executable, "-m", "gentoolkit", "augment", "--data", str(table), "--label", "kind",
                           "--out", str(out), "--epochs", "2", "--k", "1", "--confidence", "0", "--knn", "0"],
                          capture_output=True, text=True, timeout=180, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "Copied 60 real row(s)" in done.stdout and len(read(out / "pets.csv")) == 120
