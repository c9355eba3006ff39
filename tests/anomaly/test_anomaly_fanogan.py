"""f-AnoGAN on the image plugin's GAN, reached through the registry and the core's
LatentGenerator protocol: the score, the frozen GAN, saving, the contract, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from gentoolkit import ConfigError, GentoolkitError
from gentoolkit.protocols import LatentGenerator
from gentoolkit_anomaly.fanogan import FAnoGANDetector

TINY = {"params": {"latent_dim": 8, "width": 8}, "epochs": 20, "encoder_epochs": 20, "width": 8}


@pytest.fixture(scope="module")
def fitted(kit, zero_images):
    return FAnoGANDetector(toolkit=kit, **TINY).fit(zero_images[0])


def test_the_score_is_residual_plus_kappa_feature_residual(fitted, zero_images):
    _, x_test, anomalous = zero_images
    scores = fitted.decision_function(x_test)
    assert isinstance(fitted.model_, LatentGenerator)
    assert roc_auc_score(anomalous, scores) > 0.85  # measured 0.93 with this tiny GAN and encoder
    x = torch.tensor(x_test[:6], dtype=torch.float32)
    with torch.no_grad():
        restored = fitted.model_.generate(fitted.encoder_(x))
        features, features_restored = fitted.model_.critic_features(x), fitted.model_.critic_features(restored)
    expected = ((x - restored) ** 2).flatten(1).mean(1) + ((features - features_restored) ** 2).mean(1)
    np.testing.assert_allclose(scores[:6], expected.double().numpy(), rtol=1e-5)


def test_the_encoder_is_trained_and_the_gan_left_as_it_was(kit, fitted, zero_images):
    x_train = zero_images[0]
    assert not any(key.startswith("gan") for key in fitted.encoder_.state_dict())
    gan = {k: v.clone() for k, v in fitted.model_.state_dict().items()}
    untrained = FAnoGANDetector(toolkit=kit, **{**TINY, "encoder_epochs": 1}).fit(x_train)
    assert fitted.decision_scores_.mean() < untrained.decision_scores_.mean()  # the encoder learned to invert G
    assert all(torch.equal(v, fitted.model_.state_dict()[k]) for k, v in gan.items())


def test_save_load_pipeline_and_clone(kit, fitted, zero_images, tmp_path):
    x_train, x_test, _ = zero_images
    loaded = kit.load_model(kit.save_model(fitted, tmp_path / "fanogan"))
    assert isinstance(loaded, FAnoGANDetector) and loaded.threshold_ == fitted.threshold_
    np.testing.assert_allclose(loaded.decision_function(x_test), fitted.decision_function(x_test), rtol=1e-6)
    flat = FunctionTransformer(lambda x: x.reshape(len(x), 1, 8, 8))
    pipeline = Pipeline([("zero_images", flat), ("detect", FAnoGANDetector(toolkit=kit, **{**TINY, "epochs": 2,
                                                                                        "encoder_epochs": 2}))])
    assert pipeline.fit(x_train.reshape(len(x_train), -1)).predict(x_test.reshape(len(x_test), -1)).shape == (899,)
    copy = clone(fitted)
    assert copy.toolkit is kit and copy.get_params() == fitted.get_params() and not hasattr(copy, "encoder_")


def test_bad_models_params_and_input(kit, fitted, zero_images):
    with pytest.raises(ConfigError, match="has no generate"):
        FAnoGANDetector(model="image-vae", params={"latent_dim": 4, "width": 8}, epochs=0, encoder_epochs=1,
                        toolkit=kit).fit(zero_images[0][:8])
    with pytest.raises(ConfigError, match="kappa >= 0"):
        FAnoGANDetector(kappa=-1.0, toolkit=kit).fit(zero_images[0][:8])
    with pytest.raises(GentoolkitError, match=r"takes items in \[0.0, 1.0\]"):
        fitted.decision_function(np.full((2, 1, 8, 8), 3.0))
    with pytest.raises(GentoolkitError, match="not fitted yet"):
        FAnoGANDetector(toolkit=kit).decision_function(zero_images[1])
