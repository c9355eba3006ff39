"""AnoDDPM on the image plugin's DDPM, reached through the registry and the core's
PartialDenoiser protocol: the score, batch independence, saving, the contract, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from gentoolkit import ConfigError, GentoolkitError
from gentoolkit.protocols import PartialDenoiser
from gentoolkit_anomaly.anoddpm import AnoDDPMDetector

TINY = {"params": {"base_channels": 8, "num_timesteps": 20}, "noise_step": 8, "epochs": 30}


@pytest.fixture(scope="module")
def fitted(kit, zero_images):
    return AnoDDPMDetector(toolkit=kit, **TINY).fit(zero_images[0])


def test_the_score_is_the_error_of_partial_noising_and_denoising(fitted, zero_images):
    _, x_test, anomalous = zero_images
    scores = fitted.decision_function(x_test)
    assert isinstance(fitted.model_, PartialDenoiser)
    assert roc_auc_score(anomalous, scores) > 0.85  # measured 0.94 with this tiny DDPM
    x = torch.tensor(x_test[:4], dtype=torch.float32)
    restored = fitted.model_.denoise_from(x, 8, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(scores[:4], ((restored - x) ** 2).flatten(1).sum(1).double().numpy(), rtol=1e-5)
    np.testing.assert_allclose(fitted.decision_function(x_test[3:9]), scores[3:9], rtol=1e-5)  # batch-free
    assert (fitted.model_.denoise_from(x, 0, generator=torch.Generator().manual_seed(0)) - x).abs().mean() < \
        (restored - x).abs().mean()  # less noise, closer to the item


def test_save_load_and_clone(kit, fitted, zero_images, tmp_path):
    _, x_test, _ = zero_images
    loaded = kit.load_model(kit.save_model(fitted, tmp_path / "anoddpm"))
    assert isinstance(loaded, AnoDDPMDetector) and loaded.threshold_ == fitted.threshold_
    np.testing.assert_allclose(loaded.decision_function(x_test[:16]), fitted.decision_function(x_test[:16]),
                               rtol=1e-5)
    copy = clone(fitted)
    assert copy.toolkit is kit and copy.get_params() == fitted.get_params() and not hasattr(copy, "model_")


def test_simplex_noise_trains_and_noises_the_ddpm_with_it(kit, zero_images, tmp_path):
    x_fit, x_test, anomalous = zero_images
    detector = AnoDDPMDetector(toolkit=kit, noise="simplex", **TINY).fit(x_fit)
    assert detector.model_.model_card.params["noise"] == "simplex"
    # measured 0.98 with the torch simplex noise (0.84 with opensimplex's; Gaussian noise on every test item: 0.94)
    assert roc_auc_score(anomalous[::3], detector.decision_function(x_test[::3])) > 0.85
    noise = detector.model_.draw_noise(16, torch.Generator().manual_seed(0))
    assert torch.corrcoef(torch.stack([noise[..., :-1].flatten(), noise[..., 1:].flatten()]))[0, 1] > 0.4  # smooth
    saved = kit.save_model(detector.model_, tmp_path / "ddpm")
    with pytest.raises(ConfigError, match="trained with simplex noise, not gaussian"):
        AnoDDPMDetector(model=str(saved), toolkit=kit).fit(x_fit[:8])
    reused = AnoDDPMDetector(model=str(saved), noise="simplex", noise_step=8, toolkit=kit).fit(x_fit)
    np.testing.assert_allclose(reused.decision_function(x_test[:8]), detector.decision_function(x_test[:8]),
                               rtol=1e-5)


def test_bad_models_params_and_input(kit, fitted, zero_images):
    with pytest.raises(ConfigError, match="has no denoise_from"):
        AnoDDPMDetector(model="image-vae", params={"latent_dim": 4, "width": 8}, epochs=0,
                        toolkit=kit).fit(zero_images[0][:8])
    with pytest.raises(ConfigError, match="noise_step < 20"):
        AnoDDPMDetector(toolkit=kit, **{**TINY, "noise_step": 20, "epochs": 0}).fit(zero_images[0][:8])
    with pytest.raises(ConfigError, match="noise must be one of gaussian, simplex; got 'perlin'"):
        AnoDDPMDetector(toolkit=kit, noise="perlin", **{**TINY, "epochs": 0}).fit(zero_images[0][:8])
    with pytest.raises(ConfigError, match="'image-vae' has no noise param"):
        AnoDDPMDetector(model="image-vae", noise="simplex", epochs=0, toolkit=kit).fit(zero_images[0][:8])
    with pytest.raises(ConfigError, match="disagree"):
        AnoDDPMDetector(toolkit=kit, **{**TINY, "params": {**TINY["params"], "noise": "simplex"}, "epochs": 0}
                        ).fit(zero_images[0][:8])
    with pytest.raises(GentoolkitError, match="NaN"):
        fitted.decision_function(np.full((1, 1, 8, 8), np.nan))
    with pytest.raises(GentoolkitError, match="not fitted yet"):
        AnoDDPMDetector(toolkit=kit).decision_function(zero_images[1])
