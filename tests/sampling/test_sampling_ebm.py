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
    """Two epochs of the default EBM: samples far closer to digits than uniform noise on the image
    plugin's digits-cnn features (FID, inception score), a PNG grid and a loadable model."""
    overrides = {"target": "", "ebm": {"epochs": 2, "num_samples": 300}}
    result = kit.run("sampling", overrides=overrides, options=RuntimeOptions(out=tmp_path, progress=False))
    m = result.metrics
    print({k: round(v, 2) for k, v in m.items()})
    assert m["ebm.fid"] < m["ebm.noise_fid"] / 2
    assert m["ebm.inception_score"] > m["ebm.noise_inception_score"] + 1.5
    assert m["ebm.coverage"] == 1.0 and m["ebm.max_class_share"] < 0.4
    assert result.artifacts["ebm.samples"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = kit.load_model(tmp_path / "ebm" / "model.json")
    test = kit.load_dataset("digits", split="test").images[:200]
    noise = torch.rand(200, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert model.energy(test).mean() < model.energy(noise).mean()  # data is likelier than noise
