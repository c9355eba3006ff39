"""Synthetic sounds with exact references: tones, chords, chirps and plucked strings.

Each clip is computed from a few parameters (frequency, chord quality, sweep, string noise seed)
kept in ``meta``, so :func:`reference` rebuilds it exactly and a metric can compare a model's
output with the true signal. Labels are the kinds. Every clip fades in and out over 10 ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gentoolkit import ConfigError

from gentoolkit_audio.datasets import WaveformDataset, check_split

KINDS = ("tone", "chord", "chirp", "pluck")
AMPLITUDE = 0.5
SPLIT_STREAM = {"train": 0, "test": 1}


def load_synthetic(split: str = "train", per_class: int = 64, kinds: tuple[str, ...] | list[str] = KINDS,
                   seconds: float = 1.0, sample_rate: int = 16000, seed: int = 0) -> WaveformDataset:
    """``per_class`` clips of each kind (train and test are independent draws of the same seed)."""
    check_split(split)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds or per_class < 1:
        raise ConfigError(f"synthetic sounds: kinds must be some of {', '.join(KINDS)} (got {list(kinds)}) and "
                          f"per_class >= 1 (got {per_class}).")
    splits = ("train", "test") if split == "all" else (split,)
    metas = []
    for name in splits:
        rng = np.random.default_rng([seed, SPLIT_STREAM[name]])
        metas += [draw(kind, rng) for kind in kinds for _ in range(per_class)]
    length = int(round(seconds * sample_rate))
    clips = torch.from_numpy(np.stack([reference(m, length, sample_rate) for m in metas]))
    labels = torch.tensor([list(kinds).index(m["kind"]) for m in metas])
    return WaveformDataset(clips, labels, tuple(kinds), sample_rate, "synthetic-sounds", metas)


def draw(kind: str, rng: np.random.Generator) -> dict[str, Any]:
    """Random parameters of one clip of ``kind``."""
    if kind == "tone":
        return {"kind": kind, "frequency": float(np.exp(rng.uniform(np.log(110), np.log(880)))),
                "phase": float(rng.uniform(0, 2 * np.pi))}
    if kind == "chord":
        return {"kind": kind, "root": float(np.exp(rng.uniform(np.log(110), np.log(440)))),
                "quality": str(rng.choice(["major", "minor"]))}
    if kind == "chirp":
        low, high = float(rng.uniform(100, 800)), float(rng.uniform(1500, 4000))
        start, end = (low, high) if rng.random() < 0.5 else (high, low)
        return {"kind": kind, "start": start, "end": end}
    return {"kind": kind, "frequency": float(np.exp(rng.uniform(np.log(80), np.log(660)))),
            "decay": float(rng.uniform(0.990, 0.998)), "noise_seed": int(rng.integers(2**31))}


def reference(meta: dict[str, Any], length: int, sample_rate: int) -> np.ndarray:
    """The exact clip (length,) float32 that ``meta`` describes."""
    t = np.arange(length) / sample_rate
    kind = meta["kind"]
    if kind == "tone":
        wave = np.sin(2 * np.pi * meta["frequency"] * t + meta["phase"])
    elif kind == "chord":
        third = 4 if meta["quality"] == "major" else 3
        wave = sum(np.sin(2 * np.pi * meta["root"] * 2 ** (s / 12) * t) for s in (0, third, 7)) / 3
    elif kind == "chirp":
        duration = length / sample_rate
        wave = np.sin(2 * np.pi * (meta["start"] * t + (meta["end"] - meta["start"]) * t**2 / (2 * duration)))
    elif kind == "pluck":
        wave = karplus_strong(meta["frequency"], meta["decay"], meta["noise_seed"], length, sample_rate)
    else:
        raise ConfigError(f"Unknown synthetic sound kind {kind!r}; kinds: {', '.join(KINDS)}.")
    return (AMPLITUDE * wave * fade(length, sample_rate)).astype(np.float32)


def karplus_strong(frequency: float, decay: float, noise_seed: int, length: int, sample_rate: int) -> np.ndarray:
    """A plucked string: a noise burst in a delay line of one period, averaged and damped each pass
    (y[n] = decay * (y[n-N] + y[n-N-1]) / 2), computed one period at a time; peak 1."""
    period = max(2, int(round(sample_rate / frequency)))
    y = np.zeros(length + period + 1)
    y[1:period + 1] = np.random.default_rng(noise_seed).uniform(-1, 1, period)
    for start in range(period + 1, len(y), period):
        stop = min(start + period, len(y))
        y[start:stop] = decay * 0.5 * (y[start - period:stop - period] + y[start - period - 1:stop - period - 1])
    y = y[1:length + 1]
    return y / max(np.abs(y).max(), 1e-12)


def fade(length: int, sample_rate: int, seconds: float = 0.01) -> np.ndarray:
    """A 10 ms raised-cosine fade in and out (no clicks at the clip edges)."""
    n = min(int(seconds * sample_rate), length // 2)
    envelope = np.ones(length)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / max(n, 1))
    envelope[:n], envelope[length - n:] = ramp, ramp[::-1]
    return envelope
