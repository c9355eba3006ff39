"""Spoken digits made offline: "zero" ... "nine" spoken by eSpeak NG (the SC09 layout).

Each voice is an English accent with a voice variant (``en-us+f3``); each (voice, digit) is
spoken ``renditions`` times at a rate and pitch drawn from the seed. Clips are 16 kHz mono, one
second, the word trimmed of silence, peak-normalised to 0.9 and centred. The test split holds
whole voices the train split never hears. eSpeak keeps state between utterances, so the set is
rendered in one fresh process in a fixed order (deterministic for a seed) and cached as
``$GENTOOLKIT_CACHE/audio/spoken-digits-*.npz`` (int16; read without pickle).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from gentoolkit import ConfigError

from gentoolkit_audio.audio_io import fit_length, resample
from gentoolkit_audio.datasets import WaveformDataset, check_split
from gentoolkit_audio.espeak import render_in_fresh_process

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = ("en-us", "en-gb-x-rp", "en-gb-scotland", "en-029")
VARIANTS = ("m1", "f2", "m3", "f4", "m7", "f1", "m2", "f3", "klatt", "m4", "f5", "m5")
FORMAT = 1  # bump when rendering changes, so old caches are not reused


def voices(count: int) -> list[str]:
    """``count`` distinct voices (accent + variant): en-us+m1, en-gb-x-rp+f2, ...; a variant comes
    back every 12 voices with the next accent."""
    if not 1 <= count <= len(ACCENTS) * len(VARIANTS):
        raise ConfigError(f"spoken-digits: voices must be 1..{len(ACCENTS) * len(VARIANTS)}, got {count}.")
    return [f"{ACCENTS[(i + i // len(VARIANTS)) % len(ACCENTS)]}+{VARIANTS[i % len(VARIANTS)]}" for i in range(count)]


def cache_dir() -> Path:
    """``$GENTOOLKIT_CACHE/audio`` (default ``~/.cache/gentoolkit/audio``)."""
    return Path(os.environ.get("GENTOOLKIT_CACHE") or Path.home() / ".cache" / "gentoolkit") / "audio"


def load_spoken_digits(split: str = "train", voices: int = 16, renditions: int = 4, test_voices: int = 4,
                       seed: int = 0, sample_rate: int = 16000) -> WaveformDataset:
    """The spoken digits of ``split`` (train | test | all), rendered on first use and cached."""
    check_split(split)
    if not 0 < test_voices < voices or renditions < 1:
        raise ConfigError(f"spoken-digits: need 0 < test_voices < voices and renditions >= 1; got "
                          f"test_voices={test_voices}, voices={voices}, renditions={renditions}.")
    settings = {"format": FORMAT, "voices": voices, "renditions": renditions, "seed": seed, "sample_rate": sample_rate}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"spoken-digits-{key}.npz"
    if not path.is_file():
        _write_cache(path, **{k: v for k, v in settings.items() if k != "format"})
    with np.load(path, allow_pickle=False) as data:
        clips, labels, voice, rate, pitch = (data[k] for k in ("clips", "labels", "voice", "rate", "pitch"))
    names = globals()["voices"](voices)
    held_out = np.random.default_rng(seed).permutation(voices)[:test_voices]
    keep = {"train": ~np.isin(voice, held_out), "test": np.isin(voice, held_out)}.get(split, np.ones(len(voice), bool))
    meta = [{"voice": names[v], "rate": int(r), "pitch": int(p)} for v, r, p in zip(voice, rate, pitch)]
    dataset = WaveformDataset(torch.from_numpy(clips.astype(np.float32) / 32767), torch.from_numpy(labels),
                              DIGITS, sample_rate, "spoken-digits", meta)
    return dataset.subset(np.flatnonzero(keep))


def _write_cache(path: Path, voices: int, renditions: int, seed: int, sample_rate: int) -> None:
    rng = np.random.default_rng(seed)
    jobs = [(v, d, int(rng.integers(140, 201)), int(rng.integers(25, 76)))
            for v in range(voices) for d in range(len(DIGITS)) for _ in range(renditions)]
    names = globals()["voices"](voices)
    spec = [(DIGITS[d], names[v], rate, pitch) for v, d, rate, pitch in jobs]
    espeak_rate, raw = render_in_fresh_process(spec)
    clips = _to_clips(raw, espeak_rate, sample_rate)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, clips=clips, labels=np.array([j[1] for j in jobs]), voice=np.array([j[0] for j in jobs]),
                        rate=np.array([j[2] for j in jobs]), pitch=np.array([j[3] for j in jobs]))
    os.replace(tmp, path)


def _to_clips(raw: list[np.ndarray], rate: int, sample_rate: int) -> np.ndarray:
    """eSpeak's int16 at ``rate`` -> one-second int16 clips at ``sample_rate``: resampled in one
    batch, each trimmed of silence, peak-normalised to 0.9 and centred."""
    batch = torch.zeros(len(raw), max(len(r) for r in raw))
    for i, r in enumerate(raw):
        batch[i, :len(r)] = torch.from_numpy(r.astype(np.float32) / 32768)
    batch = resample(batch, rate, sample_rate)
    clips = []
    for wave, r in zip(batch, raw):
        wave = wave[:int(np.ceil(len(r) * sample_rate / rate))]
        loud = torch.nonzero(wave.abs() > 0.02 * wave.abs().max()).flatten()
        if len(loud):
            wave = wave[loud[0]: loud[-1] + 1]
        wave = 0.9 * wave / wave.abs().max().clamp_min(1e-6)
        clips.append((fit_length(wave, sample_rate) * 32767).round().to(torch.int16).numpy())
    return np.stack(clips)
