"""The fingerprint detector for SMILES: RDKit's Morgan fingerprints and Tanimoto similarity, scikit-learn's
one-class SVM behind the detector contract, in a Pipeline, saved and loaded without pickle, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from gentoolkit import GentoolkitError
from gentoolkit.cli import make_app
from gentoolkit_anomaly.errors import NotFittedError
from gentoolkit_anomaly.fingerprint import FingerprintDetector, fingerprints, tanimoto

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def series():
    """Sulfonamides: 100 to fit on; 100 more held out and 100 molecules without the group, to score."""
    inside = (DATA / "sulfonamides.smi").read_text().split()
    outside = (DATA / "others.smi").read_text().split()
    return inside[:100], inside[100:200] + outside[:100], np.array([0] * 100 + [1] * 100)


@pytest.fixture(scope="module")
def fitted(series):
    return FingerprintDetector().fit(series[0])


@pytest.mark.parametrize("counts", [False, True])
def test_kernel_is_rdkits_tanimoto(series, counts):
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    make = generator.GetCountFingerprint if counts else generator.GetFingerprint
    a, b = ([make(Chem.MolFromSmiles(s)) for s in items] for items in (series[1][90:110], series[0][:50]))
    expected = np.array([DataStructs.BulkTanimotoSimilarity(fp, b) for fp in a])
    kernel = tanimoto(fingerprints(series[1][90:110], counts=counts), fingerprints(series[0][:50], counts=counts))
    np.testing.assert_allclose(kernel, expected, atol=1e-12)
    assert 0 < kernel.mean() < 0.5 and np.isclose(tanimoto(kernel[:1] * 0, kernel[:1] * 0), 0)  # empty: 0, no NaN


def test_flags_molecules_outside_the_series_as_scikit_learns_one_class_svm(fitted, series):
    from sklearn.svm import OneClassSVM

    train, test, labels = series
    scores = fitted.decision_function(test)
    assert roc_auc_score(labels, scores) > 0.9  # measured 0.932
    x_train, x_test = fingerprints(train), fingerprints(test)
    svm = OneClassSVM(kernel="precomputed", nu=0.1).fit(tanimoto(x_train, x_train))
    np.testing.assert_allclose(scores, -svm.decision_function(tanimoto(x_test, x_train)), atol=1e-10)
    assert len(fitted.support_fingerprints_) < len(train)  # only the support molecules are kept
    np.testing.assert_array_equal(fitted.score_samples(test), -scores)
    assert fitted.threshold_ == pytest.approx(np.quantile(fitted.decision_function(train), 0.9))
    assert fitted.predict(test).tolist() == (scores > fitted.threshold_).astype(int).tolist()


def test_in_a_pipeline_and_clone(fitted, series):
    from rdkit import Chem
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    train, test, _ = series
    canonical = FunctionTransformer(lambda items: [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in items])
    pipeline = make_pipeline(canonical, FingerprintDetector()).fit(train)
    np.testing.assert_allclose(pipeline.decision_function(test), fitted.decision_function(test), atol=1e-10)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "threshold_")


def test_save_load_and_the_cli_give_identical_scores(kit, series, tmp_path):
    train, test, _ = series
    detector = kit.create_model("anomaly-fingerprint", radius=3, n_bits=1024, counts=True).fit(train)
    folder = kit.save_model(detector, tmp_path / "fingerprint")
    assert not list(folder.rglob("*.pkl")) and (folder / "detector.safetensors").is_file()
    loaded = kit.load_model(folder)
    assert isinstance(loaded, FingerprintDetector) and (loaded.radius, loaded.n_bits, loaded.counts) == (3, 1024, True)
    np.testing.assert_array_equal(loaded.decision_function(test), detector.decision_function(test))
    assert loaded.threshold_ == detector.threshold_
    (tmp_path / "new.smi").write_text("\n".join(f"{s} mol{i}" for i, s in enumerate(test[95:105])) + "\n")
    result = CliRunner().invoke(make_app(kit.host), ["anomaly", "score", str(tmp_path / "new.smi"), "--model",
                                                     str(folder), "--out", str(tmp_path / "scores.csv")])
    assert result.exit_code == 0, result.output
    rows = [row.split(",") for row in (tmp_path / "scores.csv").read_text().splitlines()[1:]]
    np.testing.assert_allclose([float(row[1]) for row in rows], detector.decision_function(test[95:105]), rtol=1e-12)


def test_bad_input_is_a_clear_error(kit, fitted, series, tmp_path):
    with pytest.raises(GentoolkitError, match=r"X holds 2 SMILES that RDKit cannot parse \(item 1 'C1CC\(', "
                                              r"item 3 'not a molecule'\)"):
        fitted.decision_function(["CCO", "C1CC(", "c1ccccc1", "not a molecule"])
    with pytest.raises(GentoolkitError, match="X holds 1 SMILES that RDKit cannot parse"):
        FingerprintDetector().fit(series[0][:10] + ["Xx"])
    with pytest.raises(GentoolkitError, match="X is empty: there are no smiles strings"):
        FingerprintDetector().fit([])
    with pytest.raises(GentoolkitError, match=r"X is an array of numbers, shape \(3, 4\): this detector scores smiles"):
        fitted.decision_function(np.zeros((3, 4)))
    with pytest.raises(GentoolkitError, match="X must be a list of smiles strings, got str"):
        fitted.decision_function("CCO")
    with pytest.raises(GentoolkitError, match=r"one-class SVM could not be fitted on X \(100 molecule\(s\)\).*nu"):
        FingerprintDetector(nu=2.0).fit(series[0])
    with pytest.raises(NotFittedError):
        FingerprintDetector().decision_function(["CCO"])
    (tmp_path / "empty.smi").write_text("\n\n")
    (tmp_path / "bad.smi").write_text("CCO ethanol\nC1CC( broken\n")
    folder = kit.save_model(fitted, tmp_path / "fingerprint")
    for name, message in (("empty.smi", "empty.smi is empty"), ("bad.smi", "bad.smi: the file holds 1 SMILES")):
        result = CliRunner().invoke(make_app(kit.host), ["anomaly", "score", str(tmp_path / name), "--model",
                                                         str(folder)])
        assert isinstance(result.exception, GentoolkitError) and message in str(result.exception)  # main(): exit 2
