"""A seed ensemble of any registered detector: mean of the members' scores, one seed each; the
detector contract, saving members in their own formats, and a bad spec."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from gentoolkit import ConfigError, GentoolkitError
from gentoolkit_anomaly.ensemble import EnsembleDetector

VAE = {"name": "anomaly-generative",
       "params": {"model": "image-vae", "params": {"latent_dim": 4, "width": 8}, "score": "reconstruction",
                  "epochs": 60}}  # after 20 epochs the decoder still draws one blur for every item


@pytest.fixture(scope="module")
def fitted(kit, zeros):
    return EnsembleDetector(detector=VAE, members=3, seed=5, toolkit=kit).fit(zeros[0])


def test_the_score_is_the_mean_of_members_with_consecutive_seeds(fitted, zeros):
    _, x_test, anomalous = zeros
    assert [m.seed for m in fitted.members_] == [5, 6, 7]
    member_scores = np.array([m.decision_function(x_test) for m in fitted.members_])
    assert not np.allclose(member_scores[0], member_scores[1])  # the seeds give different models
    scores = fitted.decision_function(x_test)
    np.testing.assert_allclose(scores, member_scores.mean(0), rtol=1e-12)
    assert roc_auc_score(anomalous, scores) > 0.95
    assert np.quantile(fitted.decision_scores_, 0.9) == pytest.approx(fitted.threshold_)


def test_save_and_load_keeps_every_member(kit, fitted, zeros, tmp_path):
    _, x_test, _ = zeros
    folder = kit.save_model(fitted, tmp_path / "ensemble")
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["member_0", "member_1", "member_2"]
    assert {p.suffix for p in folder.rglob("*") if p.is_file()} <= {".json", ".safetensors"}
    loaded = kit.load_model(folder)
    assert isinstance(loaded, EnsembleDetector) and loaded.toolkit is kit and len(loaded.members_) == 3
    np.testing.assert_allclose(loaded.decision_function(x_test), fitted.decision_function(x_test), rtol=1e-6)


def test_any_seeded_detector_in_a_pipeline_and_clone(kit, zeros):
    x_train, x_test, anomalous = zeros
    svdd = {"name": "anomaly-deep-svdd", "params": {"rep_dim": 4, "width": 4, "epochs": 5, "pretrain_epochs": 0}}
    to_images = FunctionTransformer(lambda x: x.reshape(len(x), 1, 8, 8))
    pipeline = Pipeline([("images", to_images), ("detect", EnsembleDetector(svdd, members=2, toolkit=kit))])
    scores = pipeline.fit(x_train).decision_function(x_test)
    assert scores.shape == (len(x_test),) and set(np.unique(pipeline.predict(x_test))) <= {0, 1}
    copy = clone(pipeline).named_steps["detect"]
    assert copy.toolkit is kit and copy.detector == svdd and copy.detector is not svdd
    assert not hasattr(copy, "members_")


def test_bad_specs_are_refused(kit, zeros):
    with pytest.raises(ConfigError, match="has no seed"):
        EnsembleDetector({"name": "anomaly-pca"}, members=2, toolkit=kit).fit(zeros[0])
    with pytest.raises(ConfigError, match="members >= 1"):
        EnsembleDetector(members=0, toolkit=kit).fit(zeros[0])
    with pytest.raises(ConfigError, match="is a table"):
        EnsembleDetector({"model": "image-vae"}, toolkit=kit).fit(zeros[0])
    with pytest.raises(GentoolkitError, match="not fitted yet"):
        EnsembleDetector(toolkit=kit).decision_function(zeros[1])
