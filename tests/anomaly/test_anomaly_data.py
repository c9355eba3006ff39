"""Data a user has: ODDS .mat files and labelled CSV tables in `run anomaly` and `anomaly score`,
MNIST idx files through the image plugin's registered dataset, and clear errors on bad files."""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pytest
from scipy.io import savemat

from gentoolkit import GentoolkitError, RuntimeOptions
from gentoolkit_anomaly.data import read_items, read_labelled

TABULAR = {"detectors": [{"name": "anomaly-pca", "label": "PCA", "params": {"n_components": 0.9}},
                         {"name": "anomaly-iforest", "label": "IForest", "params": {}}]}


@pytest.fixture(scope="module")
def odds(tmp_path_factory):
    """An ODDS-style table: 300 normal rows on a plane in 6-D, 30 anomalies off it; y is (n, 1)."""
    rng = np.random.default_rng(0)
    normal = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 6)) + 0.05 * rng.normal(size=(300, 6))
    X = np.vstack([normal, rng.normal(scale=2.0, size=(30, 6))])
    y = np.r_[np.zeros(300), np.ones(30)].reshape(-1, 1)
    path = tmp_path_factory.mktemp("odds") / "plane.mat"
    savemat(path, {"X": X, "y": y})
    return path, X, y.ravel()


def _run(kit, tmp_path, **overrides):
    options = RuntimeOptions(device="cpu", out=tmp_path, progress=False, threads=1)
    return kit.run("anomaly", overrides={**TABULAR, **overrides}, options=options)


def test_an_odds_mat_file_in_run_anomaly(kit, odds, tmp_path):
    path, X, y = odds
    result = _run(kit, tmp_path, data=str(path))
    saved = json.loads(result.artifacts["metrics"].read_text())
    assert saved["protocol"]["train_items"] == 165 and saved["protocol"]["test_items"] == 165
    assert set(saved["per_class"]["PCA"]) == {"normal"}
    assert saved["mean"]["PCA"]["auroc"] > 0.99  # the anomalies lie off the normal plane
    rows = result.artifacts["extremes"].read_text().splitlines()  # a table, not an image grid
    assert rows[0] == "extreme,rank,test_row,score,anomaly" and len(rows) == 33
    np.testing.assert_array_equal(read_items(path, ()), X)  # `anomaly score` reads the .mat's X
    loaded = kit.load_model(result.artifacts["detector_PCA"])
    assert loaded.decision_function(X[300:]).min() > np.median(loaded.decision_function(X[:300]))


def test_a_csv_table_with_a_label_column(kit, odds, tmp_path):
    _, X, y = odds
    lines = ["f0,f1,is_outlier,f2,f3,f4,f5"] + [",".join(map(str, [*row[:2], int(label), *row[2:]]))
                                               for row, label in zip(X, y)]
    (tmp_path / "plane.csv").write_text("\n".join(lines))
    items, labels = read_labelled(tmp_path / "plane.csv", "is_outlier")
    np.testing.assert_allclose(items, X)
    np.testing.assert_array_equal(labels, y)
    mat = json.loads(_run(kit, tmp_path / "mat", data=str(odds[0])).artifacts["metrics"].read_text())
    csv = json.loads(_run(kit, tmp_path / "csv", data=str(tmp_path / "plane.csv"), label_column="is_outlier")
                     .artifacts["metrics"].read_text())
    assert csv["mean"]["PCA"]["auroc"] == pytest.approx(mat["mean"]["PCA"]["auroc"])
    with pytest.raises(GentoolkitError, match="no 'label' column in its header row"):
        read_labelled(tmp_path / "plane.csv")


def test_bad_labelled_files(tmp_path):
    savemat(tmp_path / "nolabels.mat", {"X": np.zeros((4, 2))})
    with pytest.raises(GentoolkitError, match="has no labels"):
        read_labelled(tmp_path / "nolabels.mat")
    savemat(tmp_path / "other.mat", {"data": np.zeros((4, 2))})
    with pytest.raises(GentoolkitError, match="has no variable X.*its variables: data"):
        read_labelled(tmp_path / "other.mat")
    savemat(tmp_path / "labels.mat", {"X": np.zeros((4, 2)), "y": np.array([0, 2, 0, 1])})
    with pytest.raises(GentoolkitError, match="0 \\(normal\\) or 1 \\(anomaly\\)"):
        read_labelled(tmp_path / "labels.mat")
    (tmp_path / "broken.mat").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(200))
    with pytest.raises(GentoolkitError, match="broken.mat"):
        read_labelled(tmp_path / "broken.mat")
    with pytest.raises(GentoolkitError, match="no such file"):
        read_labelled(tmp_path / "missing.mat")


def _idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_mnist_idx_files_with_their_own_train_and_test_split(kit, digits, tmp_path):
    """The image plugin's registered `mnist` dataset reads the files; the task only names it."""
    x_train, y_train, x_test, y_test = digits  # stand-ins for MNIST: digits as 8x8 idx files
    for prefix, images, labels in (("train", x_train, y_train), ("t10k", x_test, y_test)):
        _idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", np.round(images[:, 0] * 255))
        _idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels)
    overrides = {"dataset": "mnist", "dataset_params": {"path": str(tmp_path)}, "split": "dataset",
                 "classes": [8], "show_class": 8, "detectors": TABULAR["detectors"][:1]}
    result = _run(kit, tmp_path / "run", **overrides)
    saved = json.loads(result.artifacts["metrics"].read_text())
    assert saved["protocol"]["train_items"] == 898 and saved["protocol"]["test_items"] == 899
    assert saved["per_class"]["PCA"]["8"]["auroc"] == pytest.approx(0.9862, abs=1e-3)  # as on the digits
    with pytest.raises(GentoolkitError, match="split must be one of stratified, dataset"):
        _run(kit, tmp_path / "bad", split="half")


def test_an_image_folder_with_one_subfolder_per_class(kit, digits, tmp_path):
    """The image plugin's registered `image-folder` dataset reads PNGs from class subfolders; each class in turn
    is normal, split 50/50 stratified as for the digits."""
    from PIL import Image

    images, labels = digits[2], digits[3]  # the digits' test half: 0s, 1s and 8s as PNG files
    for name in ("0", "1", "8"):
        (tmp_path / "pngs" / f"digit{name}").mkdir(parents=True)
        for i in np.flatnonzero(labels == int(name)):
            Image.fromarray(np.round(images[i, 0] * 255).astype(np.uint8)).save(tmp_path / "pngs" / f"digit{name}"
                                                                               / f"{i}.png")
    overrides = {"dataset": "image-folder", "dataset_params": {"path": str(tmp_path / "pngs")}, "show_class": 2,
                 "detectors": TABULAR["detectors"][:1]}
    result = _run(kit, tmp_path / "run", **overrides)
    saved = json.loads(result.artifacts["metrics"].read_text())
    keep = np.isin(labels, [0, 1, 8])
    assert saved["protocol"]["train_items"] + saved["protocol"]["test_items"] == keep.sum()
    assert list(saved["per_class"]["PCA"]) == ["digit0", "digit1", "digit8"]
    assert min(row["auroc"] for row in saved["per_class"]["PCA"].values()) > 0.9
    assert result.artifacts["extremes"].suffix == ".png"
