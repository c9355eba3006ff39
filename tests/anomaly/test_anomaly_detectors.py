"""The classical detectors: one scikit-learn/PyOD contract, the library's own scores, saving
without pickle, and clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from gentoolkit import GentoolkitError
from gentoolkit_anomaly.classical import HBOSDetector, IForestDetector, KDEDetector, OCSVMDetector, PCADetector

try:
    import pyod  # noqa: F401  (optional: HBOS comes from PyOD)
except ImportError:
    pyod = None
NEEDS_PYOD = pytest.mark.skipif(pyod is None, reason="PyOD is an optional extra (gentoolkit-anomaly[pyod])")
CLASSICAL = [PCADetector, OCSVMDetector, IForestDetector, KDEDetector, pytest.param(HBOSDetector, marks=NEEDS_PYOD)]


@pytest.mark.parametrize("cls", CLASSICAL)
def test_contract_scores_thresholds_and_labels(cls, zeros):
    x_train, x_test, anomalous = zeros
    detector = cls(contamination=0.2)
    assert detector.fit(x_train) is detector
    assert detector.get_params()["contamination"] == 0.2
    scores = detector.decision_function(x_test)
    assert scores.shape == (len(x_test),)
    np.testing.assert_array_equal(detector.score_samples(x_test), -scores)
    np.testing.assert_array_equal(detector.predict(x_test), (scores > detector.threshold_).astype(int))
    assert set(np.unique(detector.predict(x_test))) <= {0, 1}  # 1 = anomaly, PyOD's convention
    assert abs(detector.labels_.mean() - 0.2) < 0.03  # the threshold flags `contamination` of the training items
    assert roc_auc_score(anomalous, scores) > 0.9  # digit 0 against the others is easy for all of them


def test_calibrate_sets_the_threshold_for_a_target_false_positive_rate(zeros, digits):
    x_train, _, _ = zeros
    _, _, x_test, y_test = digits
    held_out = x_test[y_test == 0].reshape(-1, 64)
    detector = PCADetector().fit(x_train).calibrate(held_out, fpr=0.1)
    assert abs(detector.predict(held_out).mean() - 0.1) < 0.03


def test_pipeline_with_a_scaler_and_clone(zeros):
    x_train, x_test, anomalous = zeros
    pipeline = Pipeline([("scale", StandardScaler()), ("detect", PCADetector(n_components=0.8))]).fit(x_train)
    assert roc_auc_score(anomalous, pipeline.decision_function(x_test)) > 0.95
    assert pipeline.predict(x_test).shape == (len(x_test),)
    copy = clone(pipeline)
    assert copy.named_steps["detect"].get_params() == {"n_components": 0.8, "contamination": 0.1}
    assert not hasattr(copy.named_steps["detect"], "threshold_")


def test_pca_reproduces_the_one_class_digits_numbers(digits):
    """The issue's measured PCA (90 % variance) AUROCs; a different protocol would not give them."""
    x_train, y_train, x_test, y_test = digits
    aurocs = [roc_auc_score(y_test != c, PCADetector().fit(x_train[y_train == c]).decision_function(x_test))
              for c in range(10)]
    assert np.mean(aurocs) == pytest.approx(0.9966, abs=5e-4)


def test_scores_equal_the_libraries_own(zeros):
    from sklearn.ensemble import IsolationForest
    from sklearn.svm import OneClassSVM

    x_train, x_test, _ = zeros
    np.testing.assert_allclose(IForestDetector().fit(x_train).decision_function(x_test),
                               -IsolationForest(random_state=0).fit(x_train).score_samples(x_test), rtol=1e-12)
    np.testing.assert_allclose(OCSVMDetector().fit(x_train).decision_function(x_test),
                               -OneClassSVM(nu=0.1).fit(x_train).decision_function(x_test), atol=1e-9)


@NEEDS_PYOD
def test_hbos_scores_equal_pyods(zeros):
    from pyod.models.hbos import HBOS

    x_train, x_test, _ = zeros
    np.testing.assert_allclose(HBOSDetector().fit(x_train).decision_function(x_test),
                               HBOS().fit(x_train).decision_function(x_test))


def test_hbos_without_pyod_says_how_to_install_it(zeros, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyod.models.hbos", None)  # import fails as if PyOD were missing
    with pytest.raises(GentoolkitError, match=r"gentoolkit-anomaly\[pyod\]"):
        HBOSDetector().fit(zeros[0])


@pytest.mark.parametrize("cls", CLASSICAL)
def test_save_and_load_through_the_toolkit_without_pickle(cls, kit, zeros, tmp_path):
    x_train, x_test, _ = zeros
    detector = cls().fit(x_train)
    folder = kit.save_model(detector, tmp_path / "detector")
    assert {p.suffix for p in folder.rglob("*") if p.is_file()} <= {".json", ".safetensors"}
    loaded = kit.load_model(folder)
    assert type(loaded) is cls and loaded.get_params() == detector.get_params()
    np.testing.assert_allclose(loaded.decision_function(x_test), detector.decision_function(x_test), rtol=1e-12)
    assert loaded.threshold_ == detector.threshold_


def test_registered_detectors_are_created_with_checked_params(kit):
    from gentoolkit import ConfigError

    assert isinstance(kit.create_model("anomaly-pca", n_components=0.5), PCADetector)
    with pytest.raises(ConfigError, match="n_compnents"):
        kit.create_model("anomaly-pca", n_compnents=0.5)


def test_saving_an_unfitted_detector_is_refused(kit, tmp_path):
    with pytest.raises(GentoolkitError, match="not fitted"):
        kit.save_model(PCADetector(), tmp_path / "pca")


@pytest.mark.parametrize("bad, message", [
    (np.zeros((3, 63)), r"shape \(63,\).*fitted on items of shape \(64,\)"),
    (np.full((2, 64), np.nan), "NaN or infinite values in 2 item"),
    (np.where(np.eye(3, 64) > 0, np.inf, 0.0), r"rows 0, 1, 2"),
    (np.zeros((0, 64)), "X is empty"),
    (np.zeros(64), "1-D"),
    ([["a"] * 64], "must be numbers"),
])
def test_bad_input_is_a_clear_error_naming_it(zeros, bad, message):
    detector = PCADetector().fit(zeros[0])
    with pytest.raises(GentoolkitError, match=message):
        detector.decision_function(bad)


def test_bad_training_input_and_bad_settings(zeros):
    x_train = zeros[0].copy()
    x_train[5, 3] = np.nan
    with pytest.raises(GentoolkitError, match=r"NaN or infinite values in 1 item\(s\) \(rows 5\)"):
        PCADetector().fit(x_train)
    with pytest.raises(GentoolkitError, match="contamination"):
        PCADetector(contamination=0.7).fit(zeros[0])


def test_a_detector_used_before_fit_says_so():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(GentoolkitError, match="not fitted yet: call fit") as info:
        OCSVMDetector().predict(np.zeros((2, 4)))
    assert isinstance(info.value, NotFittedError)  # what PyOD and scikit-learn users catch


def test_items_fitted_as_images_score_as_flat_vectors_and_back(digits):
    x_train, y_train, x_test, _ = digits
    detector = PCADetector().fit(x_train[y_train == 3])  # (n, 1, 8, 8)
    np.testing.assert_allclose(detector.decision_function(x_test.reshape(len(x_test), -1)),
                               detector.decision_function(x_test))
    with pytest.raises(GentoolkitError, match="shape"):
        detector.decision_function(x_test.reshape(len(x_test), 8, 8, 1))
