"""Generative detectors on registered models through the core's contract: -log_prob, reconstruction,
the VAE's reconstruction probability, typicality and the likelihood ratio; Pipeline and clone; saving and loading."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from gentoolkit import ConfigError, GentoolkitError
from gentoolkit_anomaly.generative import GenerativeDetector, LikelihoodRatioDetector

TINY = {"latent_dim": 4, "width": 8}


def vae_detector(kit, **kwargs):
    return GenerativeDetector(model="image-vae", params=TINY, epochs=kwargs.pop("epochs", 3), batch_size=32,
                              toolkit=kit, **kwargs)


@pytest.fixture(scope="module")
def fitted(kit, zeros):
    return vae_detector(kit, epochs=30).fit(zeros[0])


def test_vae_nll_detector_flags_other_digits(fitted, zeros):
    _, x_test, anomalous = zeros
    scores = fitted.decision_function(x_test)
    assert fitted.score_ == "nll" and np.isfinite(scores).all()
    assert roc_auc_score(anomalous, scores) > 0.9  # a briefly trained VAE already separates digit 0
    np.testing.assert_array_equal(fitted.decision_function(x_test), scores)  # deterministic scores
    first = torch.tensor(x_test[:32], dtype=torch.float32).reshape(-1, 1, 8, 8)  # one scoring batch
    np.testing.assert_allclose(scores[:32], -fitted.model_.log_prob(first).detach().double().numpy(), rtol=1e-6)


def test_typicality_test_of_a_batch(kit, fitted, zeros):
    """Nalisnick et al. 2019: a batch's mean NLL against the training entropy, thresholded by bootstrap batches."""
    _, x_test, anomalous = zeros
    normal, other = x_test[anomalous == 0], x_test[anomalous == 1]
    result = fitted.typicality_test(normal[45:65], reference=normal[:45])
    expected = abs(fitted.decision_function(normal[45:65]).mean() - fitted.decision_scores_.mean())
    assert result["statistic"] == pytest.approx(expected) and not result["out_of_distribution"]
    assert fitted.typicality_test(other[:20], reference=normal[:45])["out_of_distribution"]
    by_training = [fitted.typicality_test(batch)["out_of_distribution"] for batch in (normal[45:65], other[:20])]
    assert by_training == [False, True]  # the reference is then the training items' NLLs
    with pytest.raises(ConfigError, match="typicality_test needs a likelihood"):
        vae_detector(kit, score="reconstruction", epochs=0).fit(x_test[:8]).typicality_test(x_test[:4])


def test_reconstruction_and_typicality_scores(kit, zeros, tmp_path):
    x_train, x_test, anomalous = zeros
    reconstruction = vae_detector(kit, score="reconstruction").fit(x_train)
    restored = reconstruction.model_.reconstruct(torch.tensor(x_train[:3], dtype=torch.float32).reshape(-1, 1, 8, 8))
    expected = ((restored.double().flatten(1).numpy() - x_train[:3]) ** 2).sum(1)
    np.testing.assert_allclose(reconstruction.decision_function(x_train[:3]), expected, rtol=1e-6)
    typical = vae_detector(kit, score="typicality").fit(x_train)
    nll = vae_detector(kit, score="nll").fit(x_train).decision_function(x_test)
    np.testing.assert_allclose(typical.decision_function(x_test), np.abs(nll - typical.entropy_), rtol=1e-9)
    assert typical.entropy_ == pytest.approx(np.mean(vae_detector(kit).fit(x_train).decision_scores_))
    loaded = kit.load_model(kit.save_model(typical, tmp_path / "typical"))  # keeps the training NLLs for the test
    assert loaded.typicality_test(x_test[:10]) == typical.typicality_test(x_test[:10])


def test_the_vaes_reconstruction_probability(kit, zeros, tmp_path):
    """An and Cho (2015): minus the mean log p(x | z) over draws z ~ q(z | x), via the core's ReconstructionDensity."""
    x_train, x_test, anomalous = zeros
    detector = vae_detector(kit, epochs=30, score="reconstruction-probability",
                            log_prob_options={"num_samples": 4}).fit(x_train)
    scores = detector.decision_function(x_test)
    assert roc_auc_score(anomalous, scores) > 0.9
    first = torch.tensor(x_test[:5], dtype=torch.float32).reshape(-1, 1, 8, 8)
    expected = -detector.model_.reconstruction_log_prob(first, num_samples=4).detach().double().numpy()
    np.testing.assert_allclose(scores[:5], expected, rtol=1e-6)
    loaded = kit.load_model(kit.save_model(detector, tmp_path / "recon-prob"))
    assert loaded.score_ == "reconstruction-probability"
    np.testing.assert_allclose(loaded.decision_function(x_test[:5]), scores[:5], rtol=1e-6)


def test_pipeline_with_a_reshaping_step_and_clone(kit, zeros):
    x_train, x_test, _ = zeros
    to_images = FunctionTransformer(lambda x: x.reshape(len(x), 1, 8, 8))
    pipeline = Pipeline([("images", to_images), ("detect", vae_detector(kit))]).fit(x_train)
    assert pipeline.named_steps["detect"].model_.item_spec.shape == (1, 8, 8)
    assert pipeline.predict(x_test).shape == (len(x_test),)
    copy = clone(pipeline)
    detector = copy.named_steps["detect"]
    assert detector.toolkit is kit and detector.params == TINY and detector.params is not TINY
    assert not hasattr(detector, "model_")
    np.testing.assert_allclose(copy.fit(x_train).decision_function(x_test), pipeline.decision_function(x_test),
                               rtol=1e-5)  # same seed, same model


def test_the_seed_decides_the_model_whatever_the_global_rng(kit, zeros):
    x_train, x_test, _ = zeros
    torch.manual_seed(1)
    first = vae_detector(kit, epochs=1, seed=3).fit(x_train).decision_function(x_test[:8])
    torch.manual_seed(2)
    np.testing.assert_array_equal(vae_detector(kit, epochs=1, seed=3).fit(x_train).decision_function(x_test[:8]), first)
    assert not np.allclose(vae_detector(kit, epochs=1, seed=4).fit(x_train).decision_function(x_test[:8]), first)


def test_model_params_follow_the_items(kit, digits):
    x_train, y_train, _, _ = digits
    images = np.kron(x_train[y_train == 1][:20], np.ones((1, 1, 2, 2)))  # 16x16 images
    detector = vae_detector(kit, epochs=1).fit(images)
    assert detector.model_.item_spec.shape == (1, 16, 16)
    with pytest.raises(GentoolkitError, match=r"shape \(1, 8, 8\)"):
        detector.decision_function(x_train[:2])


def test_save_and_load_through_the_toolkit(kit, fitted, zeros, tmp_path):
    _, x_test, _ = zeros
    folder = kit.save_model(fitted, tmp_path / "vae-detector")
    assert {p.suffix for p in folder.rglob("*") if p.is_file()} <= {".json", ".safetensors"}
    loaded = kit.load_model(folder)
    assert isinstance(loaded, GenerativeDetector) and loaded.toolkit is kit
    np.testing.assert_allclose(loaded.decision_function(x_test), fitted.decision_function(x_test), rtol=1e-6)
    assert loaded.threshold_ == fitted.threshold_


def test_a_saved_model_is_used_as_it_is(kit, fitted, zeros, tmp_path):
    x_train, x_test, _ = zeros
    path = kit.save_model(fitted.model_, tmp_path / "vae")
    detector = GenerativeDetector(model=str(path), toolkit=kit, epochs=50).fit(x_train[:10])
    np.testing.assert_allclose(detector.decision_function(x_test), fitted.decision_function(x_test), rtol=1e-6)


def test_likelihood_ratio_is_foreground_minus_background(kit, zeros, tmp_path):
    x_train, x_test, _ = zeros
    detector = LikelihoodRatioDetector(model="image-vae", params=TINY, epochs=2, toolkit=kit).fit(x_train)
    items = torch.tensor(x_test[:5], dtype=torch.float32).reshape(-1, 1, 8, 8)
    expected = (detector.background_.log_prob(items) - detector.model_.log_prob(items)).detach().double().numpy()
    np.testing.assert_allclose(detector.decision_function(x_test[:5]), expected, rtol=1e-5)
    perturbed = detector._perturbed(x_train)
    assert 0.1 < (perturbed != x_train).mean() < 0.25  # mutation_rate 0.2, minus draws that hit the same value
    loaded = kit.load_model(kit.save_model(detector, tmp_path / "ratio"))
    np.testing.assert_allclose(loaded.decision_function(x_test[:5]), expected, rtol=1e-5)


def test_a_score_the_model_cannot_give_is_refused(kit, zeros):
    with pytest.raises(ConfigError, match="score='reconstruction' needs a model with encode"):
        GenerativeDetector(model="image-pixelcnn", params={"channels": 4, "num_layers": 1}, score="reconstruction",
                           epochs=0, toolkit=kit).fit(zeros[0][:4])
    with pytest.raises(ConfigError, match="'reconstruction-probability' needs a model with reconstruction_log_prob"):
        GenerativeDetector(model="image-pixelcnn", params={"channels": 4, "num_layers": 1},
                           score="reconstruction-probability", epochs=0, toolkit=kit).fit(zeros[0][:4])


def test_bad_input_for_a_generative_detector(kit, fitted):
    with pytest.raises(GentoolkitError, match=r"values in \[-1, 1\].*takes items in \[0.0, 1.0\]"):
        fitted.decision_function(np.linspace(-1, 1, 128).reshape(2, 64))
    with pytest.raises(GentoolkitError, match="not fitted yet"):
        vae_detector(kit).decision_function(np.zeros((2, 64)))
    with pytest.raises(GentoolkitError, match="NaN"):
        fitted.decision_function(np.full((1, 64), np.nan))


def test_smiles_are_scored_by_a_molecules_prior_through_the_registry(tmp_path):
    import gentoolkit_anomaly
    import gentoolkit_molecules
    from gentoolkit import Toolkit

    kit = Toolkit(plugins=[gentoolkit_anomaly, gentoolkit_molecules], entrypoints=False)
    series = ["CCO", "CCCO", "CCCCO", "CC(C)O", "CCOC", "OCCO"]
    params = {"smiles": series + ["c1ccccc1"], "embedding": 8, "hidden": 16, "layers": 1}
    detector = GenerativeDetector(model="prior-lstm", params=params, toolkit=kit).fit(series)
    scores = detector.decision_function(["CCO", "c1ccccc1"])
    np.testing.assert_allclose(scores, -detector.model_.log_prob(["CCO", "c1ccccc1"]).double().numpy(), rtol=1e-6)
    loaded = kit.load_model(kit.save_model(detector, tmp_path / "smiles-detector"))
    np.testing.assert_allclose(loaded.decision_function(["CCO", "c1ccccc1"]), scores, rtol=1e-6)
    with pytest.raises(GentoolkitError, match=r"non-empty smiles strings; item\(s\) \[1\]"):
        detector.decision_function(["CCO", ""])
    with pytest.raises(GentoolkitError, match="X is empty"):
        detector.decision_function([])


@pytest.mark.parametrize("name, params", [
    ("image-realnvp", {"num_scales": 1, "steps_per_scale": 1, "hidden_channels": 8, "levels": 17}),
    ("image-pixelcnn", {"channels": 8, "num_layers": 2, "levels": 17}),
    ("image-ddpm", {"base_channels": 8, "num_timesteps": 10, "levels": 17}),
])
def test_any_registered_density_is_a_detector(kit, zeros, name, params):
    x_train, x_test, _ = zeros
    detector = GenerativeDetector(model=name, params=params, epochs=1, batch_size=16, toolkit=kit).fit(x_train[:32])
    scores = detector.decision_function(x_test[:8])
    assert detector.score_ == "nll" and np.isfinite(scores).all()
    items = torch.tensor(x_test[:8], dtype=torch.float32).reshape(-1, 1, 8, 8)
    np.testing.assert_allclose(scores, -detector.model_.log_prob(items).detach().double().numpy(), rtol=1e-5)
