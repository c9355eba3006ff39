"""Mel-cepstral distortion: zero for identical clips, blind to gain (c0 is left out), large for
different sounds, and DTW alignment forgives a time shift that zero-padding does not."""

from __future__ import annotations

import pytest
import torch

from gentoolkit import ConfigError
from gentoolkit_audio.metrics import mel_cepstral_distortion
from gentoolkit_audio.synth import load_synthetic


@pytest.fixture(scope="module")
def clips():
    data = load_synthetic("train", per_class=1, kinds=["chirp", "pluck"], seconds=0.25)
    return data.waveforms  # (2, 4000): a chirp and a plucked string


def test_identical_clips_are_0_db_apart_and_gain_does_not_count(clips):
    for aligning in ("dtw", "pad"):
        assert torch.allclose(mel_cepstral_distortion(clips, clips, aligning=aligning), torch.zeros(2), atol=1e-6)
    assert mel_cepstral_distortion(0.3 * clips, clips).abs().max() < 0.05  # float32 rounding only


def test_different_sounds_are_far_apart_and_dtw_forgives_a_shift(clips):
    different = mel_cepstral_distortion(clips, clips.flip(0))
    assert (different > 5).all()
    shifted = torch.roll(clips, 800, dims=1)  # 50 ms later
    dtw, pad = (mel_cepstral_distortion(shifted, clips, aligning=a) for a in ("dtw", "pad"))
    assert (dtw < pad).all() and (dtw < different).all()


def test_the_evaluator_and_its_refusals(audio_kit, clips):
    assert audio_kit.evaluate("audio-mel-cepstral-distortion", clips, reference=clips) == \
        {"mel_cepstral_distortion_dtw_db": pytest.approx(0.0, abs=1e-6)}
    with pytest.raises(ConfigError, match="reference="):
        audio_kit.evaluate("audio-mel-cepstral-distortion", clips)
    with pytest.raises(ConfigError, match="pairwise"):
        mel_cepstral_distortion(clips, clips[:1])
    with pytest.raises(ConfigError, match="aligning"):
        audio_kit.evaluate("audio-mel-cepstral-distortion", clips, reference=clips, aligning="warp")
