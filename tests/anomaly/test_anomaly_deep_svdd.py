"""Deep SVDD (Ruff et al. 2018): the one-class objective on a bias-free network, the detector
contract, saving without pickle, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from gentoolkit import ConfigError, GentoolkitError
from gentoolkit_anomaly.deep_svdd import CENTRE_EPS, DeepSVDDDetector

SMALL = {"rep_dim": 8, "width": 8, "epochs": 15, "pretrain_epochs": 10, "batch_size": 32}


@pytest.fixture(scope="module")
def images(digits):
    """Digit 0's training images as (n, 1, 8, 8), every test image and its anomaly label."""
    x_train, y_train, x_test, y_test = digits
    return x_train[y_train == 0], x_test, (y_test != 0).astype(int)


@pytest.fixture(scope="module")
def fitted(images):
    return DeepSVDDDetector(**SMALL).fit(images[0])


def test_images_score_as_the_distance_to_the_centre(fitted, images):
    _, x_test, anomalous = images
    scores = fitted.decision_function(x_test)
    assert roc_auc_score(anomalous, scores) > 0.85  # digit 0 against the other nine, after 25 short epochs
    phi = fitted.network_.features(torch.tensor(x_test[:5], dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(scores[:5], ((phi - fitted.centre_) ** 2).sum(1), rtol=1e-5)
    assert (np.abs(fitted.centre_) >= CENTRE_EPS - 1e-7).all()  # no coordinate of c left near 0
    np.testing.assert_array_equal(fitted.decision_function(x_test[:7]), scores[:7])  # batch-independent


def test_the_network_has_no_bias_and_no_affine_batchnorm(fitted):
    """A bias or a BatchNorm shift would let phi map every item onto c: the trivial solution."""
    names = [name for name, _ in fitted.network_.encoder.named_parameters()]
    assert names and not any(name.endswith("bias") for name in names)
    assert all(not getattr(m, "affine", False) for m in fitted.network_.encoder.modules())


def test_the_one_class_training_pulls_normal_items_to_the_centre(images):
    x_train, _, _ = images
    before = DeepSVDDDetector(**{**SMALL, "epochs": 1}).fit(x_train).decision_scores_.mean()
    after = DeepSVDDDetector(**{**SMALL, "epochs": 60}).fit(x_train).decision_scores_.mean()
    assert after < 0.6 * before  # measured: 0.13 after one epoch, 0.06 after 50


def test_feature_vectors_in_a_pipeline_and_clone(rng):
    normal = rng.normal(size=(200, 6))
    outliers = rng.normal(size=(20, 6)) + 4.0
    detector = DeepSVDDDetector(**{**SMALL, "width": 4, "epochs": 20})
    pipeline = Pipeline([("scale", StandardScaler()), ("detect", detector)]).fit(normal)
    test = np.vstack([normal[:50], outliers])
    scores = pipeline.decision_function(test)
    assert roc_auc_score(np.r_[np.zeros(50), np.ones(20)], scores) > 0.95
    assert set(np.unique(pipeline.predict(test))) <= {0, 1}
    copy = clone(detector)
    assert copy.get_params() == detector.get_params() and not hasattr(copy, "network_")
    np.testing.assert_allclose(clone(pipeline).fit(normal).decision_function(test), scores, rtol=1e-5)  # seeded


def test_save_and_load_through_the_toolkit(kit, fitted, images, tmp_path):
    _, x_test, _ = images
    folder = kit.save_model(fitted, tmp_path / "svdd")
    assert {p.suffix for p in folder.rglob("*") if p.is_file()} <= {".json", ".safetensors"}
    loaded = kit.load_model(folder)
    assert isinstance(loaded, DeepSVDDDetector) and loaded.threshold_ == fitted.threshold_
    np.testing.assert_allclose(loaded.decision_function(x_test), fitted.decision_function(x_test), rtol=1e-6)
    np.testing.assert_allclose(loaded.decision_function(x_test[:3].reshape(3, -1)),  # flat vectors of its images
                               fitted.decision_function(x_test[:3]), rtol=1e-6)


def test_registered_with_checked_params(kit):
    detector = kit.create_model("anomaly-deep-svdd", rep_dim=4)
    assert isinstance(detector, DeepSVDDDetector) and detector.rep_dim == 4
    with pytest.raises(GentoolkitError, match="radius"):
        kit.create_model("anomaly-deep-svdd", radius=1.0)


def test_bad_input(fitted, images):
    with pytest.raises(GentoolkitError, match=r"shape \(3,\)"):
        fitted.decision_function(np.zeros((2, 3)))
    with pytest.raises(GentoolkitError, match="NaN"):
        fitted.decision_function(np.full((1, 1, 8, 8), np.nan))
    with pytest.raises(GentoolkitError, match="not fitted yet"):
        DeepSVDDDetector().decision_function(images[1])
    with pytest.raises(ConfigError, match="rep_dim"):
        DeepSVDDDetector(rep_dim=0).fit(images[0])
