"""The convolutional energy-based model: trained by short-run Langevin with a replay buffer through
the core loop (exact resume), saved and loaded by name, and its samples scored beside uniform noise
by the image plugin's evaluators, reached through the registry."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from gentoolkit import RuntimeOptions, Sampler, Toolkit, Trainable

TINY = {"width": 8, "buffer_size": 64, "langevin_steps": 5, "sample_steps": 5}


@pytest.fixture(scope="module")
def kit():
    return Toolkit()


def test_ebm_is_a_sampler_trained_by_the_core_loop_and_resumes_exactly(kit, tmp_path):
    images = kit.load_dataset("digits", split="train").images[:96]
    data = TensorDataset(images)

    def trained(epochs: int, out, seed_weights: int = 0):
        torch.manual_seed(seed_weights)
        model = kit.create_model("ebm", **TINY)
        kit.fit(model, data, RuntimeOptions(out=out, progress=False, seed=3), epochs=epochs, batch_size=32)
        return model

    straight = trained(2, tmp_path / "a")
    trained(1, tmp_path / "b")
    resumed = trained(2, tmp_path / "b", seed_weights=1)  # other initial weights: the checkpoint must win
    assert isinstance(straight, Sampler) and isinstance(straight, Trainable)
    for key, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, msg=key)
    untouched = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(straight.buffer, untouched)  # the replay buffer holds chains, saved with the model
    loaded = kit.load_model(tmp_path / "a" / "model.json")
    torch.testing.assert_close(loaded.buffer, straight.buffer)
    x = loaded.sample(7, generator=torch.Generator().manual_seed(0))
    assert x.shape == (7, 1, 8, 8) and x.min() >= 0 and x.max() <= 1
    assert torch.equal(x, loaded.sample(7, generator=torch.Generator().manual_seed(0)))


def test_sampling_task_trains_the_ebm_on_digits_and_its_samples_beat_noise(kit, tmp_path):
    """The task's EBM (3 epochs here, to keep the test short; 15 by default): samples closer to digits
    than uniform noise on the image plugin's digits-cnn features (FID, inception score), a PNG grid
    and a loadable model."""
    overrides = {"target": "", "ebm": {"epochs": 3, "num_samples": 300}}
    result = kit.run("sampling", overrides=overrides, options=RuntimeOptions(out=tmp_path, progress=False))
    m = result.metrics
    print({k: round(v, 2) for k, v in m.items()})
    assert m["ebm.fid"] < 0.7 * m["ebm.noise_fid"]
    assert m["ebm.inception_score"] > m["ebm.noise_inception_score"] + 1.5
    assert m["ebm.coverage"] == 1.0 and m["ebm.max_class_share"] < m["ebm.noise_max_class_share"]
    assert result.artifacts["ebm.samples"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = kit.load_model(tmp_path / "ebm" / "model.json")
    test = kit.load_dataset("digits", split="test").images[:200]
    noise = torch.rand(200, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert model.energy(test).mean() < model.energy(noise).mean()  # data is likelier than noise


def test_an_energy_based_model_is_an_mcmc_target(kit, tmp_path):
    """A saved EBM, found by its model.json: MALA samples exp(-E) in logit space, as any Density."""
    from gentoolkit_sampling.samplers.base import run_chains
    from gentoolkit_sampling.samplers.catalog import make_sampler
    from gentoolkit_sampling.task import build_target

    model = kit.create_model("ebm", **TINY)
    path = kit.save_model(model, tmp_path / "ebm")
    target = build_target(kit, f"model:{path}", {})
    assert target.dim == 64 and target.likelihood_kind == "unnormalised"
    u = torch.zeros(3, 64, dtype=target.dtype)
    with torch.no_grad():  # log p(u) = -E(x) + log-Jacobian of x = sigmoid(u)
        expected = -model.energy(target.to_items(u)) + 64 * torch.log(torch.tensor(0.25))
        torch.testing.assert_close(target.log_prob(u), expected)
    chains = run_chains(make_sampler("mala"), target, num_chains=2, num_warmup=5, num_samples=5,
                        generator=torch.Generator().manual_seed(0))
    assert chains.samples.shape == (2, 5, 64) and chains.accept_prob.mean() > 0
