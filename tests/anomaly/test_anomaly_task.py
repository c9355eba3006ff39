"""`gentoolkit run anomaly`, the evaluators, `gentoolkit anomaly score`, and a cheap import."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from gentoolkit import GentoolkitError, RuntimeOptions

QUICK = {"classes": [0, 8], "show_class": 8, "detectors": [
    {"name": "anomaly-generative", "label": "VAE", "params": {"model": "image-vae", "epochs": 2,
                                                              "params": {"latent_dim": 4, "width": 8}}},
    {"name": "anomaly-pca", "label": "PCA", "params": {"n_components": 0.9}},
]}


@pytest.fixture(scope="module")
def run_result(kit, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return kit.run("anomaly", overrides=QUICK, options=RuntimeOptions(device="cpu", out=out, progress=False, threads=1))


def test_run_writes_the_table_metrics_and_pictures(run_result):
    saved = json.loads(run_result.artifacts["metrics"].read_text())
    assert set(saved["per_class"]) == {"VAE", "PCA"} and set(saved["per_class"]["PCA"]) == {"0", "8"}
    # the one-class digits protocol: PCA (90 % variance) gives these per-class AUROCs
    assert saved["per_class"]["PCA"]["0"]["auroc"] == pytest.approx(0.9999, abs=2e-4)
    assert saved["per_class"]["PCA"]["8"]["auroc"] == pytest.approx(0.9862, abs=1e-3)
    assert saved["mean"]["PCA"]["auroc"] == pytest.approx(run_result.metrics["pca_auroc"])
    assert {"auprc", "f1", "recall_at_fpr_0.05", "fit_seconds"} <= set(saved["mean"]["VAE"])
    assert saved["protocol"]["train_items"] == 898 and saved["protocol"]["test_items"] == 899
    for name in ("histogram", "extremes"):
        assert run_result.artifacts[name].read_bytes()[:4] == b"\x89PNG"


def test_detectors_the_run_saved_load_and_score(kit, run_result, digits):
    _, _, x_test, y_test = digits
    from sklearn.metrics import roc_auc_score

    for label in ("VAE", "PCA"):  # the saved detectors score as the ones the run measured
        scores = kit.load_model(run_result.artifacts[f"detector_{label}"]).decision_function(x_test)
        recorded = run_result.outputs["per_class"][label]["8"]["auroc"]
        assert roc_auc_score(y_test != 8, scores) == pytest.approx(recorded, abs=1e-9)


def test_score_command_prints_scores_and_writes_csv(kit, run_result, digits, tmp_path):
    from typer.testing import CliRunner

    from gentoolkit.cli import make_app

    _, _, x_test, _ = digits
    np.save(tmp_path / "items.npy", x_test[:5])
    args = ["anomaly", "score", str(tmp_path / "items.npy"), "--model", str(run_result.artifacts["detector_PCA"]),
            "--out", str(tmp_path / "scores.csv")]
    result = CliRunner().invoke(make_app(kit.host), args)
    assert result.exit_code == 0, result.output
    rows = (tmp_path / "scores.csv").read_text().splitlines()
    assert rows[0] == "item,score,anomaly" and len(rows) == 6
    expected = kit.load_model(run_result.artifacts["detector_PCA"]).decision_function(x_test[:5])
    np.testing.assert_allclose([float(r.split(",")[1]) for r in rows[1:]], expected)
    (tmp_path / "empty.csv").write_text("")
    bad = CliRunner().invoke(make_app(kit.host), ["anomaly", "score", str(tmp_path / "empty.csv"), "--model",
                                                  str(run_result.artifacts["detector_PCA"])])
    assert isinstance(bad.exception, GentoolkitError) and "empty.csv is empty" in str(bad.exception)  # main(): exit 2
    np.save(tmp_path / "short.npy", x_test[:2].reshape(2, -1)[:, :63])
    bad = CliRunner().invoke(make_app(kit.host), ["anomaly", "score", str(tmp_path / "short.npy"), "--model",
                                                  str(run_result.artifacts["detector_PCA"])])
    assert str(bad.exception).startswith(f"{tmp_path / 'short.npy'}: the file has items of shape (63,)")


def test_score_command_reads_images(kit, run_result, digits, tmp_path):
    from PIL import Image

    from gentoolkit_anomaly.data import read_items

    _, _, x_test, _ = digits
    Image.fromarray((x_test[0, 0] * 255).astype(np.uint8)).save(tmp_path / "digit.png")
    items = read_items(tmp_path / "digit.png", (1, 8, 8))
    assert items.shape == (1, 1, 8, 8)
    np.testing.assert_allclose(items[0], x_test[0], atol=1 / 255)


def test_evaluators(kit):
    scores, labels = [0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]
    assert kit.evaluate("anomaly-auroc", scores, labels=labels) == {"auroc": 0.75}
    assert kit.evaluate("anomaly-auprc", scores, labels=labels)["auprc"] == pytest.approx((1 + 2 / 3) / 2)
    assert kit.evaluate("anomaly-f1", scores, labels=labels) == {"f1": 0.5}  # flags 0.8 and 0.4
    assert kit.evaluate("anomaly-recall-at-fpr", scores, labels=labels, fpr=0.5) == {"recall_at_fpr_0.5": 1.0}
    assert kit.evaluate("anomaly-recall-at-fpr", scores, labels=labels, fpr=0.0) == {"recall_at_fpr_0": 0.5}
    with pytest.raises(GentoolkitError, match="both present"):
        kit.evaluate("anomaly-auroc", scores, labels=[0, 0, 0, 0])
    with pytest.raises(GentoolkitError, match="one label per score"):
        kit.evaluate("anomaly-auroc", scores, labels=[0, 1])


def test_importing_the_plugin_imports_neither_torch_nor_sklearn():
    code = "import sys, gentoolkit_anomaly; print('torch' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
