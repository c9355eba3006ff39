"""The mel-spectrogram VAE with its Griffin-Lim vocoder: the model contract, class conditioning
learnt through the core loop, seeded sampling, saving and loading through the toolkit."""

from __future__ import annotations

import pytest
import torch

from gentoolkit import ConfigError, Density, RuntimeOptions, Sampler, Trainable
from gentoolkit_audio.models import create_model
from gentoolkit_audio.synth import load_synthetic
from gentoolkit_audio.vocoder import mel

TINY = {"width": 16, "levels": 2, "latent_dim": 4, "n_mels": 16, "griffin_lim_iterations": 8, "lr": 3e-3}


@pytest.fixture(scope="module")
def trained(audio_kit, tmp_path_factory):
    """A tiny conditional mel-VAE fitted to tones and chirps of 0.1 s by the core loop."""
    data = load_synthetic("train", per_class=8, kinds=["tone", "chirp"], seconds=0.1)
    torch.manual_seed(0)
    model = audio_kit.create_model("audio-mel-vae", length=1600, classes=list(data.classes), **TINY)
    out = tmp_path_factory.mktemp("melvae")
    history = audio_kit.fit(model, data, RuntimeOptions(device="cpu", out=out, progress=False, seed=0),
                            epochs=15, batch_size=4, checkpoint_every=15)
    return model.eval(), data, history


def test_mel_vae_meets_the_model_contract():
    model = create_model("mel-vae", 1600, 16000, ("a", "b"), **TINY)
    assert isinstance(model, Sampler) and isinstance(model, Trainable) and not isinstance(model, Density)
    assert model.item_spec.shape == (1600,) and model.frames == 13 and model.padded == 16
    clips = model.sample(3, condition=[0, 1, 0], generator=torch.Generator().manual_seed(0))
    assert clips.shape == (3, 1600) and clips.abs().max() <= 1
    with pytest.raises(ConfigError, match="unexpected keyword.*channels"):
        create_model("mel-vae", 1600, 16000, (), channels=3)
    with pytest.raises(ConfigError, match="training length"):
        model.sample(1, length=800)


def test_training_lowers_the_loss_and_samples_follow_their_class(trained):
    model, data, history = trained
    assert history[-1]["loss"] < history[0]["loss"] - 0.2
    real = mel(data.waveforms, model.mel_config)  # (16, 16 bands, 13 frames)
    means = [real[data.labels == c].mean(0) for c in range(2)]
    g = torch.Generator().manual_seed(3)
    for c in range(2):
        drawn = model.sample_log_mel(8, condition=c, generator=g).mean(0)
        own, other = ((drawn - m).pow(2).mean() for m in (means[c], means[1 - c]))
        assert own < 0.5 * other, (c, own, other)


def test_seeded_samples_repeat_leave_the_global_rng_alone_and_survive_save_and_load(trained, audio_kit, tmp_path):
    model = trained[0]
    state = torch.get_rng_state()
    a = model.sample(2, condition=[0, 1], generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), state)  # Griffin-Lim's random phases came from the generator
    assert torch.equal(a, model.sample(2, condition=[0, 1], generator=torch.Generator().manual_seed(1)))
    assert not torch.equal(a, model.sample(2, condition=[0, 1], generator=torch.Generator().manual_seed(2)))
    loaded = audio_kit.load_model(audio_kit.save_model(model, tmp_path / "melvae"))
    assert loaded.item_spec == model.item_spec and bool(loaded.normalised)
    assert torch.equal(loaded.sample(2, condition=[0, 1], generator=torch.Generator().manual_seed(1)), a)
