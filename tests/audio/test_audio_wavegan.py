"""WaveGAN: the paper's shapes, phase shuffle, WGAN-GP training through the core loop (critic and
generator schedule), class conditioning, saving and loading through the toolkit."""

from __future__ import annotations

import pytest
import torch

from gentoolkit import ConfigError, Density, RuntimeOptions, Sampler, Trainable
from gentoolkit_audio.models import create_model
from gentoolkit_audio.models.wavegan import phase_shuffle
from gentoolkit_audio.synth import load_synthetic

TINY = {"model_size": 4, "latent_dim": 8, "n_critic": 2}


def test_the_paper_sizes_one_second_clips_as_16384_samples_from_5_layers():
    model = create_model("wavegan", 16000, 16000, (), model_size=2)
    assert (model.levels, model.span, model.top) == (5, 16384, 32)  # 16d channels at 16 steps
    strides = [m.stride[0] for m in model.generator_net if isinstance(m, torch.nn.ConvTranspose1d)]
    assert strides == [4] * 5 and [c.kernel_size[0] for c in model.critic_convs] == [25] * 5
    z = torch.randn(2, model.p.latent_dim)
    assert model.generate(z).shape == (2, 16000) and model.critic(model.generate(z)).shape == (2,)
    assert isinstance(model, Sampler) and isinstance(model, Trainable) and not isinstance(model, Density)
    with pytest.raises(ConfigError, match="phase_shuffle"):
        create_model("wavegan", 256, 16000, (), phase_shuffle=-1)


def test_phase_shuffle_shifts_each_item_by_at_most_n_with_reflection():
    x = torch.arange(1.0, 21.0).view(1, 1, 20).repeat(64, 3, 1)
    out = phase_shuffle(x, 2, torch.Generator().manual_seed(0))
    shifts = set()
    for item in out:
        k = int(item[0, 10] - x[0, 0, 10]) * -1  # out[t] = x[t - k]
        assert -2 <= k <= 2 and torch.equal(item[:, 2:18], x[0, :, 2 - k:18 - k])
        reflected = x[0, 0, 1:1 + k].flip(0) if k > 0 else x[0, 0, -1 + k:-1].flip(0)
        assert torch.equal(item[0, :k] if k > 0 else item[0, 20 + k:], reflected)
        shifts.add(k)
    assert shifts == {-2, -1, 0, 1, 2}
    assert torch.equal(phase_shuffle(x, 0), x)


def test_wgan_gp_trains_through_the_core_loop_and_saves_and_loads(audio_kit, tmp_path):
    data = load_synthetic("train", per_class=4, kinds=["tone", "chirp"], seconds=0.016)  # 256 samples
    torch.manual_seed(0)
    model = audio_kit.create_model("audio-wavegan", length=256, classes=list(data.classes), **TINY)
    before = [p.clone() for p in model.generator_net.parameters()]
    history = audio_kit.fit(model, data, RuntimeOptions(device="cpu", out=tmp_path / "run", progress=False),
                            epochs=3, batch_size=4, checkpoint_every=3)
    assert int(model.steps) == 6 and all(r["gradient_penalty"] >= 0 for r in history)
    assert "generator_loss" in history[-1]  # every n_critic-th step updates the generator
    assert not all(torch.equal(a, b) for a, b in zip(before, model.generator_net.parameters()))
    g = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    clips = model.sample(2, condition=[0, 1], generator=g())
    assert clips.shape == (2, 256) and clips.abs().max() <= 1
    z_only = model.sample(2, condition=[1, 1], generator=g())
    assert not torch.equal(clips[0], z_only[0]) and torch.equal(clips[1], z_only[1])  # the class changes the clip
    loaded = audio_kit.load_model(audio_kit.save_model(model, tmp_path / "wavegan"))
    assert int(loaded.steps) == 6 and torch.equal(loaded.sample(2, condition=[0, 1], generator=g()), clips)
