"""With the image plugin, reached only through the registry: the Bernoulli RBM trained by PCD on
binarised digits (against scikit-learn's BernoulliRBM on pseudo-likelihood, its samples scored by
the image plugin's FID), and the image VAE's density as an MCMC target."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gentoolkit import RuntimeOptions, Sampler, Toolkit, Trainable

EPOCHS, BATCH, LR, HIDDEN = 10, 20, 0.05, 64


@pytest.fixture(scope="module")
def kit():
    return Toolkit()


@pytest.fixture(scope="module")
def digits(kit):
    return kit.load_dataset("digits", split="train"), kit.load_dataset("digits", split="test")


def mean_pseudo_ll(score, repeats: int = 20) -> float:
    return float(np.mean([score(seed) for seed in range(repeats)]))


def test_pcd_trained_rbm_matches_scikit_learn_on_pseudo_likelihood_and_samples_digits(kit, digits, tmp_path):
    from sklearn.neural_network import BernoulliRBM

    train, test = digits
    torch.manual_seed(0)  # the initial weights
    rbm = kit.create_model("rbm", num_hidden=HIDDEN, lr=LR)
    assert isinstance(rbm, Sampler) and isinstance(rbm, Trainable)
    untrained = kit.create_model("rbm", num_hidden=HIDDEN)
    kit.fit(rbm, train, RuntimeOptions(out=tmp_path, progress=False), epochs=EPOCHS, batch_size=BATCH)
    v_test = rbm.binarise(test.images)
    ours = mean_pseudo_ll(lambda s: rbm.pseudo_log_likelihood(v_test, torch.Generator().manual_seed(s)).mean().item())
    before = mean_pseudo_ll(lambda s: untrained.pseudo_log_likelihood(v_test, torch.Generator().manual_seed(s))
                            .mean().item())
    x_train, x_test = rbm.binarise(train.images).numpy(), v_test.numpy()
    reference = BernoulliRBM(n_components=HIDDEN, learning_rate=LR, batch_size=BATCH, n_iter=EPOCHS,
                             random_state=0).fit(x_train)
    theirs = mean_pseudo_ll(lambda s: reference.score_samples(x_test).mean())
    print(f"pseudo-log-likelihood per image on digits test: ours {ours:.2f}, scikit-learn {theirs:.2f}, "
          f"untrained {before:.2f}")
    assert ours > before + 10
    assert ours > theirs - 1.0  # at least as good as the baseline, within the estimator's noise

    samples = rbm.sample(300, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (300, 1, 8, 8) and 0 <= samples.min() and samples.max() <= 1
    fid = kit.evaluate("image-fid", samples)["fid"]
    before = kit.evaluate("image-fid", untrained.sample(300, generator=torch.Generator().manual_seed(0)))["fid"]
    coverage = kit.evaluate("image-class-coverage", samples)
    print(f"FID (digits-cnn features): RBM samples {fid:.1f}, untrained RBM {before:.1f}; "
          f"class coverage {coverage['coverage']:.2f}, largest class share {coverage['max_class_share']:.2f}")
    assert fid < before / 2  # (uniform noise scores ~16 on these features: this FID alone proves little)
    assert coverage["coverage"] >= 0.7


def test_the_image_plugins_vae_is_a_target_through_the_registry(kit, tmp_path):
    """`target = "model:image-vae"`: MALA on a VAE's differentiable bound, found by name in the registry."""
    result = kit.run("sampling", overrides={"target": "model:image-vae", "sampler": "mala", "num_chains": 2,
                                            "num_warmup": 10, "num_samples": 10, "plots": False},
                     options=RuntimeOptions(out=tmp_path, progress=False))
    assert result.metrics["model_image-vae.mala.accept_rate"] > 0
    assert result.outputs["runs"]["model_image-vae.mala"]["target"]["likelihood_kind"] == "bound"


def test_the_image_task_trains_and_measures_the_rbm_like_its_own_families(kit, tmp_path):
    """`gentoolkit run image --set model=rbm`: the image plugin's task trains a model of another plugin
    (one without a ``classes`` parameter) and measures it with the same metrics as its own families."""
    result = kit.run("image", overrides={"model": "rbm", "train.epochs": 1, "sample.n": 10,
                                         "evaluate.n_samples": 50, "evaluate.kid_subsets": 5},
                     options=RuntimeOptions(out=tmp_path, progress=False, seed=0))
    metrics = result.outputs["metrics"]
    assert metrics["model"]["name"] == "rbm" and metrics["num_samples"] == 50
    assert metrics["features"] == "digits-cnn" and metrics["fid"] > metrics["fid_real_floor"]
    assert 0.1 <= metrics["coverage"] <= 1 and "bits_per_dim" not in metrics  # not a Density
