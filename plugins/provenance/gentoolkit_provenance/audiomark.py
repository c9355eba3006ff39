"""A keyed spread-spectrum watermark for audio in the STFT domain, written by hand: no pretrained
audio watermark detector (AudioSeal, WavMark) can be downloaded here, and none is keyed by us.

The key draws a +-1 pattern over frequency, one value per 7.8125 Hz bin from 200 to 3800 Hz
(below 4 kHz, so resampling to 8 kHz keeps it). Marking scales every STFT bin by
10^(+-DELTA_DB/20): a fixed keyed ripple of the spectrum, the same in every frame, so cropping and
shifting in time need no synchronisation. The detector removes each frame's smooth spectrum
(its log power minus the mean of the 8 neighbouring bins), averages frames weighted by energy,
and correlates with the pattern: z = sum(w d) / sqrt(sum d^2). Over random keys z has mean 0 and
variance 1 whatever the audio is; a file reads as marked at z >= Z_THRESHOLD.
Limits: the ripple is a fixed linear filter, so many files marked with one key reveal it by
averaging; pitch shifting or time stretching moves the bins and erases it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from functools import lru_cache

import numpy as np

__all__ = ["DELTA_DB", "Z_THRESHOLD", "BAND_HZ", "GRID_HZ", "embed", "score"]

DELTA_DB = 1.5  # ripple depth: about 19 dB signal-to-watermark ratio
Z_THRESHOLD = 4.0  # one-sided normal tail about 3e-5
BAND_HZ = (200.0, 3800.0)
GRID_HZ = 16000 / 2048  # the pattern's frequency resolution: one STFT bin at 16 kHz, n_fft 2048
NEIGHBOURS = 4  # bins each side whose mean is a bin's smooth spectrum
MIN_SECONDS = 0.25  # shorter files are not scored
MIN_BINS = 64  # nor files whose sample rate leaves fewer pattern bins (below about 1.5 kHz)


def embed(waveform: np.ndarray, sample_rate: int, key: bytes) -> np.ndarray:
    """The marked copy of ``waveform`` (T,) or (T, C) float in [-1, 1], same shape and length."""
    from scipy import signal

    nfft, bins, pattern = _plan(sample_rate, key)
    gain = np.ones(nfft // 2 + 1)
    gain[bins] = 10 ** (DELTA_DB * pattern / 20)
    x = np.asarray(waveform, dtype=np.float64)
    channels = x.reshape(len(x), -1).T  # (C, T)
    _, _, spectrum = signal.stft(channels, sample_rate, nperseg=nfft, noverlap=nfft - nfft // 4)
    _, marked = signal.istft(spectrum * gain[:, None], sample_rate, nperseg=nfft, noverlap=nfft - nfft // 4)
    marked = marked[:, :x.shape[0]].T.reshape(x.shape)
    return np.clip(marked, -1.0, 1.0)


def score(waveform: np.ndarray, sample_rate: int, key: bytes) -> float | None:
    """The detection z-score of ``waveform`` (T,) or (T, C); None when it is too short or silent."""
    from scipy import signal

    x = np.asarray(waveform, dtype=np.float64)
    x = x.reshape(len(x), -1).mean(axis=1)
    nfft, bins, pattern = _plan(sample_rate, key)
    if len(x) < MIN_SECONDS * sample_rate or len(bins) < MIN_BINS:
        return None
    _, _, spectrum = signal.stft(x, sample_rate, nperseg=nfft, noverlap=nfft - nfft // 4)
    power = np.abs(spectrum) ** 2  # (F, frames)
    energy = power.sum(axis=0)
    if energy.max() <= 0:
        return None
    frames = energy > energy.max() * 1e-4
    log_power = 10 * np.log10(power[:, frames] + 1e-10)
    kernel = np.ones(2 * NEIGHBOURS + 1) / (2 * NEIGHBOURS)
    kernel[NEIGHBOURS] = 0
    smooth = np.apply_along_axis(np.convolve, 0, log_power, kernel, mode="same")
    weights = energy[frames] / energy.max()
    residual = (np.tanh((log_power - smooth) / 6)[bins] * weights).sum(axis=1) / weights.sum()
    norm = math.sqrt(float((residual ** 2).sum()))
    return float((pattern * residual).sum() / norm) if norm > 0 else None


def _plan(sample_rate: int, key: bytes) -> tuple[int, np.ndarray, np.ndarray]:
    """(n_fft, the STFT bins in the band, their +-1 pattern) at this sample rate."""
    nfft = max(256, 2 * round(sample_rate / GRID_HZ / 2))
    freqs = np.arange(nfft // 2 + 1) * sample_rate / nfft
    high = min(BAND_HZ[1], 0.45 * sample_rate)
    bins = np.flatnonzero((freqs >= BAND_HZ[0]) & (freqs <= high))
    return nfft, bins, _keyed_pattern(key)[np.rint(freqs[bins] / GRID_HZ).astype(int)]


@lru_cache(maxsize=8)
def _keyed_pattern(key: bytes) -> np.ndarray:
    seed = np.frombuffer(hmac.new(key, b"audio-pattern", hashlib.sha256).digest(), dtype=np.uint32)
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=int(BAND_HZ[1] / GRID_HZ) + 2)
