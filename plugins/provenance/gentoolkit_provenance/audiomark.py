"""A keyed spread-spectrum watermark for audio in the STFT domain, written by hand: no pretrained
audio watermark detector (AudioSeal, WavMark) can be downloaded here, and none is keyed by us.

The key draws a +-1 pattern over frequency, one value per 15.6 Hz cell (two STFT bins; a finer
pattern is smeared by the analysis window) from 200 to 3800 Hz (below 4 kHz, so resampling to
8 kHz keeps it). Marking scales every STFT bin by
10^(+-DELTA_DB/20): a fixed keyed ripple of the spectrum, the same in every frame, so cropping and
shifting in time need no synchronisation. The detector removes each frame's smooth spectrum
(each cell's log power minus the mean of the cells either side), sums the frames into D, and
correlates with the pattern: z = sum(w D) / sqrt(sum D^2). It sums twice: every frame alike, and
each time-frequency cell weighted by how far it stands above the noise floor (the mean spectrum of
the quietest fifth of the frames), since where added noise dominates, the ripple is gone. Over
random keys each z has mean 0 and variance 1 whatever the audio is; the larger one is reported and
a file reads as marked at z >= Z_THRESHOLD, p-value doubled for the two tries (``p_value``).
Limits: the ripple is a fixed linear filter, so many files marked with one key reveal it by
averaging; pitch shifting or time stretching moves the bins and erases it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from functools import lru_cache

import numpy as np

__all__ = ["DELTA_DB", "Z_THRESHOLD", "BAND_HZ", "GRID_HZ", "embed", "score", "p_value"]

DELTA_DB = 1.5  # ripple depth: about 17 dB signal-to-watermark ratio on speech
Z_THRESHOLD = 4.0  # one-sided normal tail about 3e-5, doubled for the two sums: 6e-5
BAND_HZ = (200.0, 3800.0)
BIN_HZ = 16000 / 2048  # the STFT's resolution at every sample rate: one bin at 16 kHz, n_fft 2048
GRID_HZ = 2 * BIN_HZ  # the pattern's: a finer one is smeared by the analysis window and lost
NEIGHBOURS = 1  # cells each side whose mean is a cell's smooth spectrum (1 measured best of 1-6)
QUIET_PERCENT = 20  # the quietest frames, in percent, whose mean spectrum is the noise floor
OVERSUBTRACT = 4.0  # a cell's weight is 1 - OVERSUBTRACT * floor / power, clipped to [0, 1] (2-8 measured)
SOFT_DB = (6.0, 4.0)  # residuals are compressed by tanh(dB / SOFT_DB) (plain sum, floor-weighted sum)
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
    """The detection z-score of ``waveform`` (T,) or (T, C), the larger of the plain and the
    noise-floor-weighted sums; None when it is too short or silent."""
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
    first = cells.min()
    cell_power = np.zeros((cells.max() - first + 1, power.shape[1]))  # (cells, frames)
    np.add.at(cell_power, cells - first, power[bins])
    floor = cell_power[:, energy <= np.percentile(energy, QUIET_PERCENT)].mean(axis=1, keepdims=True)
    cell_power = cell_power[:, energy > energy.max() * 1e-4]
    log_power = 10 * np.log10(cell_power + 1e-10)
    kernel = np.ones(2 * NEIGHBOURS + 1) / (2 * NEIGHBOURS)
    kernel[NEIGHBOURS] = 0
    residual = (log_power - np.apply_along_axis(np.convolve, 0, log_power, kernel, mode="same"))
    inner = slice(NEIGHBOURS, len(log_power) - NEIGHBOURS)  # cells with neighbours on both sides
    pattern = _keyed_pattern(key)[first:first + len(log_power)][inner]
    above_floor = np.clip(1 - OVERSUBTRACT * floor / (cell_power + 1e-30), 0, 1)
    zs = []
    for weights, soft in zip((1.0, above_floor), SOFT_DB):
        summed = (np.tanh(residual / soft) * weights)[inner].sum(axis=1)  # (cells,)
        norm = math.sqrt(float((summed ** 2).sum()))
        if norm > 0:
            zs.append(float((pattern * summed).sum() / norm))
    return max(zs) if zs else None


def p_value(z: float) -> float:
    """P(score >= z) for unmarked audio: the normal tail, doubled for the two sums ``score`` tries."""
    return min(1.0, math.erfc(z / math.sqrt(2)))


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
