"""A keyed spread-spectrum watermark for audio in the STFT domain, written by hand: no pretrained
audio watermark detector (AudioSeal, WavMark) can be downloaded here, and none is keyed by us.

The key draws a +-1 pattern over frequency, one value per 15.6 Hz cell (two STFT bins; a finer
pattern is smeared by the analysis window) from 200 to 3800 Hz (below 4 kHz, so resampling to
8 kHz keeps it). Marking scales every STFT bin by
10^(+-DELTA_DB/20): a fixed keyed ripple of the spectrum, the same in every frame, so cropping and
shifting in time need no synchronisation. The detector removes each frame's smooth spectrum
(each cell's log power minus the mean of the cells either side), averages frames
weighted by energy into D, and correlates with the pattern: z = sum(w D) / sqrt(sum D^2).
Over random keys z has mean 0 and variance 1 whatever the audio is; a file reads as marked at z >= Z_THRESHOLD.
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

DELTA_DB = 1.5  # ripple depth: about 17 dB signal-to-watermark ratio on speech
Z_THRESHOLD = 4.0  # one-sided normal tail about 3e-5
BAND_HZ = (200.0, 3800.0)
BIN_HZ = 16000 / 2048  # the STFT's resolution at every sample rate: one bin at 16 kHz, n_fft 2048
GRID_HZ = 2 * BIN_HZ  # the pattern's: a finer one is smeared by the analysis window and lost
NEIGHBOURS = 1  # cells each side whose mean is a cell's smooth spectrum (1 measured best of 1-6)
MIN_SECONDS = 0.25  # shorter files are not scored
MIN_BINS = 64  # nor files whose sample rate leaves fewer pattern bins (below about 1.5 kHz)


def embed(waveform: np.ndarray, sample_rate: int, key: bytes) -> np.ndarray:
    """The marked copy of ``waveform`` (T,) or (T, C) float in [-1, 1], same shape and length."""
    from scipy import signal

    nfft, bins, cells = _plan(sample_rate)
    gain = np.ones(nfft // 2 + 1)
    gain[bins] = 10 ** (DELTA_DB * _keyed_pattern(key)[cells] / 20)
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
    nfft, bins, cells = _plan(sample_rate)
    if len(x) < MIN_SECONDS * sample_rate or len(bins) < MIN_BINS:
        return None
    _, _, spectrum = signal.stft(x, sample_rate, nperseg=nfft, noverlap=nfft - nfft // 4)
    power = np.abs(spectrum) ** 2  # (F, frames)
    energy = power.sum(axis=0)
    if energy.max() <= 0:
        return None
    frames = energy > energy.max() * 1e-4
    first = cells.min()
    cell_power = np.zeros((cells.max() - first + 1, int(frames.sum())))
    np.add.at(cell_power, cells - first, power[bins][:, frames])
    log_power = 10 * np.log10(cell_power + 1e-10)  # (cells, frames)
    kernel = np.ones(2 * NEIGHBOURS + 1) / (2 * NEIGHBOURS)
    kernel[NEIGHBOURS] = 0
    smooth = np.apply_along_axis(np.convolve, 0, log_power, kernel, mode="same")
    inner = slice(NEIGHBOURS, len(log_power) - NEIGHBOURS)  # cells with neighbours on both sides
    weights = energy[frames] / energy.max()
    residual = (np.tanh((log_power - smooth) / 6)[inner] * weights).sum(axis=1) / weights.sum()
    norm = math.sqrt(float((residual ** 2).sum()))
    pattern = _keyed_pattern(key)[first:first + len(log_power)][inner]
    return float((pattern * residual).sum() / norm) if norm > 0 else None


def _plan(sample_rate: int) -> tuple[int, np.ndarray, np.ndarray]:
    """(n_fft, the STFT bins in the band, the pattern cell of each) at this sample rate."""
    nfft = max(256, 2 * round(sample_rate / BIN_HZ / 2))
    freqs = np.arange(nfft // 2 + 1) * sample_rate / nfft
    high = min(BAND_HZ[1], 0.45 * sample_rate)
    bins = np.flatnonzero((freqs >= BAND_HZ[0]) & (freqs <= high))
    return nfft, bins, np.floor(freqs[bins] / GRID_HZ).astype(int)


@lru_cache(maxsize=8)
def _keyed_pattern(key: bytes) -> np.ndarray:
    seed = np.frombuffer(hmac.new(key, b"audio-pattern", hashlib.sha256).digest(), dtype=np.uint32)
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=int(BAND_HZ[1] / GRID_HZ) + 2)
