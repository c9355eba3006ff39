"""Waveform datasets: eSpeak spoken digits, synthetic sounds with exact references, audio folders."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import soundfile
import torch

from gentoolkit.errors import SkippedInputWarning
from gentoolkit_audio.audio_io import AudioError, fit_length, read_audio
from gentoolkit_audio.datasets import load_audio_folder
from gentoolkit_audio.synth import KINDS, load_synthetic, reference


def test_spoken_digits_are_one_second_16khz_clips_split_by_voice(digits_cache, tiny_digits):
    from gentoolkit_audio.digits import DIGITS, load_spoken_digits

    train, test = (load_spoken_digits(s, **tiny_digits) for s in ("train", "test"))
    assert train.waveforms.shape == (20, 16000) and test.waveforms.shape == (10, 16000)
    assert train.item_spec.sample_rate == 16000 and train.item_spec.classes == DIGITS
    assert sorted(train.labels.tolist()) == sorted(list(range(10)) * 2)
    train_voices, test_voices = {m["voice"] for m in train.meta}, {m["voice"] for m in test.meta}
    assert len(train_voices) == 2 and len(test_voices) == 1 and not train_voices & test_voices
    peaks = train.waveforms.abs().amax(1)
    assert torch.allclose(peaks, torch.full_like(peaks, 0.9), atol=1e-3)  # every clip holds a spoken word
    centre = train.waveforms[:, 4000:12000].pow(2).mean()
    edges = torch.cat([train.waveforms[:, :1000], train.waveforms[:, -1000:]], 1).pow(2).mean()
    assert centre > 100 * edges  # the word sits in the middle, silence at the edges


def test_spoken_digits_are_rendered_the_same_for_a_seed_and_differ_across_seeds(digits_cache, tiny_digits, tmp_path,
                                                                                monkeypatch):
    from gentoolkit_audio.digits import load_spoken_digits

    first = load_spoken_digits("all", **tiny_digits)
    assert len(list((digits_cache / "audio").glob("spoken-digits-*.npz"))) == 1
    monkeypatch.setenv("GENTOOLKIT_CACHE", str(tmp_path))  # render again from scratch
    again = load_spoken_digits("all", **tiny_digits)
    assert torch.equal(first.waveforms, again.waveforms) and first.meta == again.meta
    other = load_spoken_digits("all", **tiny_digits, seed=1)
    assert [m["rate"] for m in other.meta] != [m["rate"] for m in first.meta]


def test_synthetic_sounds_match_their_exact_references():
    data = load_synthetic("train", per_class=3, seconds=0.5)
    assert data.waveforms.shape == (12, 8000) and data.classes == KINDS
    for clip, meta, label in zip(data.waveforms, data.meta, data.labels):
        assert data.classes[label] == meta["kind"]
        assert np.array_equal(clip.numpy(), reference(meta, 8000, 16000))
    tone = next(i for i, m in enumerate(data.meta) if m["kind"] == "tone")
    spectrum = np.abs(np.fft.rfft(data.waveforms[tone].numpy(), n=16000))  # 1 Hz bins
    assert abs(int(spectrum.argmax()) - data.meta[tone]["frequency"]) <= 1
    pluck = next(i for i, m in enumerate(data.meta) if m["kind"] == "pluck")
    x = data.waveforms[pluck].numpy()[:4000]
    period = round(16000 / data.meta[pluck]["frequency"])
    lags = np.arange(20, 400)
    autocorrelation = [np.dot(x[:-lag], x[lag:]) for lag in lags]
    assert abs(int(lags[np.argmax(autocorrelation)]) - period) <= 1  # a string of the drawn pitch
    test = load_synthetic("test", per_class=3, seconds=0.5)
    assert not torch.equal(test.waveforms, data.waveforms)
    assert torch.equal(load_synthetic("train", per_class=3, seconds=0.5).waveforms, data.waveforms)


def _write(path, data, rate):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), data, rate, subtype="PCM_16")


def test_audio_folder_reads_classes_resamples_and_mixes_down_with_a_warning(tmp_path):
    t = np.arange(16000) / 16000
    _write(tmp_path / "hum" / "a.wav", 0.5 * np.sin(2 * np.pi * 100 * t), 16000)
    _write(tmp_path / "hum" / "b.flac", 0.5 * np.sin(2 * np.pi * 100 * t[:4000]), 16000)  # short: padded
    _write(tmp_path / "beep" / "low_rate.wav", 0.5 * np.sin(2 * np.pi * 1000 * np.arange(8000) / 8000), 8000)
    _write(tmp_path / "beep" / "stereo.wav", np.stack([0.5 * np.sin(2 * np.pi * 1000 * t)] * 2, 1), 16000)
    with pytest.warns(UserWarning) as caught:
        data = load_audio_folder(tmp_path, sample_rate=16000, seconds=0.5)
    message = " ".join(str(w.message) for w in caught)
    assert "low_rate.wav" in message and "8000 Hz" in message and "stereo.wav" in message and "mono" in message
    assert data.waveforms.shape == (4, 8000) and data.classes == ("beep", "hum")
    assert data.labels.tolist() == [0, 0, 1, 1]
    resampled = data.waveforms[0].numpy()
    assert abs(int(np.abs(np.fft.rfft(resampled, n=16000)).argmax()) - 1000) <= 2  # still a 1 kHz beep
    padded = data.waveforms[3]
    assert padded[:2000].abs().max() == 0 and padded[-2000:].abs().max() == 0  # 0.25 s centred in 0.5 s
    assert padded[2000:6000].abs().max() > 0.45


def test_bad_audio_files_are_named_in_the_error(tmp_path):
    (tmp_path / "notes.wav").write_text("this is not audio")
    with pytest.raises(AudioError, match="notes.wav"):
        read_audio(tmp_path / "notes.wav")
    _write(tmp_path / "empty.wav", np.zeros(0), 16000)
    with pytest.raises(AudioError, match="empty.wav.*zero length"):
        read_audio(tmp_path / "empty.wav")
    _write(tmp_path / "phone.wav", np.zeros(800), 8000)
    with pytest.raises(AudioError, match="phone.wav.*8000 Hz"):
        read_audio(tmp_path / "phone.wav", 16000, strict=True)
    folder = tmp_path / "set"
    _write(folder / "yes" / "ok.wav", np.zeros(1600), 16000)
    (folder / "yes" / "broken.flac").write_bytes(b"fLaC not really")
    with pytest.raises(AudioError, match="broken.flac"):
        load_audio_folder(folder, strict=True)
    with pytest.warns(SkippedInputWarning, match="1 of 2 audio files.*broken.flac"):
        assert len(load_audio_folder(folder)) == 1  # the good file is kept
    (folder / "yes" / "ok.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="Nothing usable"):
        load_audio_folder(folder)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(AudioError, match="No WAV.*nothing"):
        load_audio_folder(tmp_path / "nothing")


def test_fit_length_centres_and_crops():
    x = torch.arange(10.0)
    assert fit_length(x, 6).tolist() == [2, 3, 4, 5, 6, 7]
    assert fit_length(x[:2], 6).tolist() == [0, 0, 0, 1, 0, 0]


def test_datasets_are_registered_as_waveform_items(audio_kit, digits_cache, tiny_digits):
    names = {e.name: e.value.items for e in audio_kit.datasets.entries()}
    assert names == {"spoken-digits": "waveform", "synthetic-sounds": "waveform", "audio-folder": "waveform"}
    data = audio_kit.load_dataset("synthetic-sounds", split="test", per_class=2, kinds=["tone", "chirp"])
    assert data.item_spec.classes == ("tone", "chirp") and len(data) == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        digits = audio_kit.load_dataset("spoken-digits", split="test", **tiny_digits)
    assert len(digits) == 10


def test_a_script_without_a_main_guard_can_build_the_digit_cache(tmp_path):
    """Rendering runs eSpeak in a fresh interpreter; it must not re-run the user's script (spawn would)."""
    import subprocess
    import sys

    script = tmp_path / "make_digits.py"
    script.write_text("from gentoolkit_audio.digits import load_spoken_digits\n"
                      "data = load_spoken_digits('all', voices=2, renditions=1, test_voices=1)\n"
                      "print('clips', len(data))\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "GENTOOLKIT_CACHE": str(tmp_path / "cache")})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "clips 20"
