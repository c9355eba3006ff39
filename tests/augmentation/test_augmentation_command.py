"""``gentoolkit augment``: the augmented copy, its manifest, and the input left untouched."""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gentoolkit import GentoolkitError
from gentoolkit_augmentation.folder import AugmentOptions, augment_folder

# An all-but-untrained generator, filters off: the plumbing, not the sample quality.
FAST = AugmentOptions(epochs=2, params={"width": 8, "latent_dim": 4}, k=2, ratio=1.0, confidence=0.0, knn=0)


def fingerprint(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_augment_writes_real_and_synthetic_images_with_a_manifest_and_leaves_the_input_alone(kit, image_folder,
                                                                                           tmp_path):
    before = fingerprint(image_folder)
    out = tmp_path / "augmented"
    result = augment_folder(kit, image_folder, out, FAST)
    assert fingerprint(image_folder) == before
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    real = [r for r in rows if r["synthetic"] == "0"]
    fake = [r for r in rows if r["synthetic"] == "1"]
    assert len(real) == 18 and result["real"] == 18
    assert {r["path"] for r in real} == set(before)  # every input image, at the same place
    assert all(fingerprint(out)[r["path"]] == before[r["path"]] for r in real)  # copied byte for byte
    assert len(fake) == sum(result["synthetic"].values()) == 18  # ratio 1: one per real image, filters off
    assert {r["model"] for r in fake} == {"image-vae"} and {r["seed"] for r in fake} == {"0"}
    for row in fake:
        path = out / row["path"]
        assert path.parent.name == row["class"] and path.is_file()
        from PIL import Image

        assert Image.open(path).size == (8, 8)


def test_the_filter_keeps_no_sample_of_an_untrained_generator(kit, image_folder, tmp_path):
    strict = AugmentOptions(**{**FAST.__dict__, "confidence": 0.9, "knn": 1})
    result = augment_folder(kit, image_folder, tmp_path / "out", strict)
    assert result["synthetic"] == {"digit0": 0, "digit1": 0, "digit2": 0} and result["generated"] == 36
    rows = list(csv.DictReader((tmp_path / "out" / "manifest.csv").open()))
    assert len(rows) == 18 and {r["synthetic"] for r in rows} == {"0"}


def test_augment_refuses_to_overwrite_or_to_write_inside_the_input(kit, image_folder, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(GentoolkitError, match="not empty"):
        augment_folder(kit, image_folder, out, FAST)
    assert (out / "mine.txt").read_text() == "keep me"
    for inside in (image_folder, image_folder / "sub", image_folder.parent):
        with pytest.raises(GentoolkitError, match="overlaps the input"):
            augment_folder(kit, image_folder, inside, FAST, force=True)
    with pytest.raises(GentoolkitError, match="ratio"):
        augment_folder(kit, image_folder, tmp_path / "new", AugmentOptions(ratio=0))


def test_augment_refuses_unlabelled_images_and_a_class_with_one_image(kit, image_folder, tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for png in list(image_folder.rglob("*.png"))[:4]:
        shutil.copy(png, flat / f"{png.parent.name}-{png.name}")
    with pytest.raises(GentoolkitError, match="no label"):
        augment_folder(kit, flat, tmp_path / "a", FAST)
    lonely = image_folder / "digit9"
    lonely.mkdir()
    shutil.copy(next(image_folder.rglob("*.png")), lonely / "only.png")
    with pytest.raises(GentoolkitError, match="'digit9' have one item"):
        augment_folder(kit, image_folder, tmp_path / "b", FAST)


def test_the_command_line_reports_a_bad_out_as_one_paragraph(image_folder):
    done = subprocess.run([sys.executable, "-m", "gentoolkit", "augment", "--data", str(image_folder), "--out",
                           str(image_folder / "copy")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 2 and "overlaps the input" in done.stderr and "Traceback" not in done.stderr
    assert not (image_folder / "copy").exists()


def test_augment_with_an_unlabelled_folder_samples_each_class_from_the_pool_generator(kit, image_folder, tmp_path):
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    digits = load_digits()
    pool = tmp_path / "unlabelled"
    pool.mkdir()
    others = np.flatnonzero(digits.target < 3)[6 * 3:][:90]  # digits 0-2 the labelled folder does not hold
    for i in others:
        Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8)).save(pool / f"{i}.png")
    options = AugmentOptions(epochs=60, params={"width": 8}, k=4, ratio=1.0, knn=3, unlabelled=pool)
    result = augment_folder(kit, image_folder, tmp_path / "out", options)
    rows = [r for r in csv.DictReader((tmp_path / "out" / "manifest.csv").open()) if r["synthetic"] == "1"]
    assert result["generated"] == 72 and 0 < len(rows) <= 18
    assert {r["model"] for r in rows} == {"image-vae+class-mixture"}
    judge = LogisticRegression(max_iter=2000).fit(digits.data[digits.target < 3] / 16, digits.target[digits.target < 3])
    pixels = np.stack([np.asarray(Image.open(tmp_path / "out" / r["path"]), dtype=float).ravel() / 255 for r in rows])
    agree = judge.predict(pixels) == np.array([int(r["class"][-1]) for r in rows])
    assert agree.mean() > 0.7  # each class folder got samples of its own digit (chance: 1 in 3)
    small = tmp_path / "small"
    small.mkdir()
    Image.fromarray(np.zeros((6, 6), dtype=np.uint8)).save(small / "a.png")
    with pytest.raises(GentoolkitError, match=r"--unlabelled .*small holds \(1, 6, 6\).*--size"):
        augment_folder(kit, image_folder, tmp_path / "out2", AugmentOptions(**{**options.__dict__, "unlabelled": small}))


def test_the_command_line_refuses_unlabelled_images_beside_a_csv(image_folder, tmp_path):
    table = tmp_path / "table.csv"
    table.write_text("x,label\n1,a\n2,a\n3,b\n4,b\n")
    done = subprocess.run([sys.executable, "-m", "gentoolkit", "augment", "--data", str(table), "--out",
                           str(tmp_path / "out"), "--unlabelled", str(image_folder)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 2 and "only an image folder takes unlabelled images" in done.stderr
    assert not (tmp_path / "out").exists()
