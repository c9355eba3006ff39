"""WaveNet: exact likelihood, causality, Fast WaveNet sampling equal to full recompute, training
through the core loop, saving and loading through the toolkit."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from gentoolkit import ConfigError, Density, RuntimeOptions, Sampler, Trainable
from gentoolkit_audio.models import create_model
from gentoolkit_audio.synth import load_synthetic

TINY = {"channels": 8, "skip_channels": 16, "layers": 3, "stacks": 2}


def tiny(length=64, classes=(), **params):
    torch.manual_seed(0)
    return create_model("wavenet", length, 16000, classes, **{**TINY, **params})


def test_wavenet_meets_the_model_contract():
    model = tiny(classes=("a", "b"))
    assert isinstance(model, Sampler) and isinstance(model, Density) and isinstance(model, Trainable)
    assert model.likelihood_kind == "exact" and model.receptive_field == 2 + 2 * (1 + 2 + 4)
    spec = model.item_spec
    assert (spec.kind, spec.shape, spec.value_range, spec.sample_rate, spec.classes) == \
        ("waveform", (64,), (-1.0, 1.0), 16000, ("a", "b"))
    with pytest.raises(ConfigError, match="unexpected keyword.*width"):
        tiny(width=3)


def test_log_prob_is_an_exact_distribution_over_mu_law_code_sequences():
    model = tiny(length=3, quantization=4, layers=2, stacks=1).double()
    codes = torch.tensor(list(itertools.product(range(4), repeat=3)))  # all 64 sequences of 3 codes
    waveforms = model.decode(codes)
    assert torch.equal(model.encode(waveforms), codes)
    total = model.log_prob(waveforms).exp().sum()
    assert total.item() == pytest.approx(1.0, abs=1e-9)


def test_conditional_log_prob_without_labels_is_the_class_marginal():
    model = tiny(classes=("a", "b", "c")).double()
    x = torch.rand(2, 64, dtype=torch.float64) * 2 - 1
    per_class = torch.stack([model.log_prob(x, condition=torch.full((2,), c)) for c in range(3)], 1)
    assert torch.allclose(model.log_prob(x), torch.logsumexp(per_class, 1) - math.log(3))
    assert not torch.allclose(per_class[:, 0], per_class[:, 1])  # the class changes the density


def test_outputs_are_causal():
    model = tiny()
    inputs = torch.randint(256, (1, 64))
    changed = inputs.clone()
    changed[0, 40] = (changed[0, 40] + 7) % 256
    a, b = model(inputs), model(changed)
    assert torch.equal(a[..., :40], b[..., :40]) and not torch.allclose(a[..., 40:], b[..., 40:])


def test_cached_steps_give_the_teacher_forced_logits():
    model = tiny(classes=("a", "b"))
    y = torch.tensor([0, 1])
    codes = torch.randint(256, (2, 50))
    full = model(model.shifted(codes), y)
    step = model._cached_steps(2, y)
    inputs = model.shifted(codes)
    cached = torch.stack([step(inputs[:, t]) for t in range(50)], 2)
    assert torch.allclose(cached, full, atol=1e-5)


def test_fast_and_naive_sampling_draw_identical_clips():
    """Speed is bench/audio_wavenet_sampling.py's job; here only that the two agree exactly."""
    model = tiny(length=200, classes=("a", "b"), layers=5).double()
    draws = {cached: model.sample(3, condition=[1, 0, 1], generator=torch.Generator().manual_seed(5), cached=cached)
             for cached in (True, False)}
    assert torch.equal(draws[True], draws[False])
    assert draws[True].shape == (3, 200) and draws[True].abs().max() <= 1
    assert len(torch.unique(draws[True])) > 20  # a real draw, not a constant
    other = model.sample(3, condition=[1, 0, 1], generator=torch.Generator().manual_seed(6))
    assert not torch.equal(other, draws[True])


def test_wavenet_learns_tones_through_the_core_loop_and_saves_and_loads(audio_kit, tmp_path):
    data = load_synthetic("train", per_class=8, kinds=["tone"], seconds=0.025)
    model = audio_kit.create_model("audio-wavenet", length=400, classes=["tone"], crop=0, lr=1e-2, **TINY)
    before = model.log_prob(data.waveforms).mean()
    history = audio_kit.fit(model, data, RuntimeOptions(device="cpu", out=tmp_path / "run", progress=False),
                            epochs=20, batch_size=8)
    after = model.log_prob(data.waveforms).mean()
    assert history[-1]["bits_per_sample"] < history[0]["bits_per_sample"]
    assert after > before + 0.5 * 400 * math.log(2)  # at least half a bit per sample better
    path = audio_kit.save_model(model, tmp_path / "wavenet")
    loaded = audio_kit.load_model(path)
    assert loaded.item_spec == model.item_spec
    assert torch.allclose(loaded.log_prob(data.waveforms[:2]), model.log_prob(data.waveforms[:2]))
    g = torch.Generator().manual_seed(1)
    assert torch.equal(loaded.sample(2, generator=g, length=50),
                       model.sample(2, generator=torch.Generator().manual_seed(1), length=50))
