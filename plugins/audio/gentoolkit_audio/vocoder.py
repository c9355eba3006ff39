"""Log-mel spectrograms and the Griffin-Lim vocoder back to audio (torchaudio transforms).

The two halves around a mel-spectrogram generator (``models/melvae.py``): ``mel(x)`` gives the
log-mel frames a model generates, ``griffin_lim(frames)`` turns frames into a waveform by inverting the mel
filterbank (least squares) and estimating the phase (Griffin and Lim 1984, with momentum).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 128
    n_mels: int = 64
    floor: float = 1e-5  # added before the log


def mel(waveforms: Tensor, config: MelConfig = MelConfig()) -> Tensor:
    """Log-mel frames (B, n_mels, frames) of waveforms (B, T)."""
    import torchaudio.transforms as AT

    transform = AT.MelSpectrogram(config.sample_rate, n_fft=config.n_fft, hop_length=config.hop_length,
                                  n_mels=config.n_mels, power=2.0)
    return torch.log(transform(waveforms.float()) + config.floor)


def griffin_lim(frames: Tensor, length: int, config: MelConfig = MelConfig(), iterations: int = 64,
                seed: int = 0) -> Tensor:
    """Waveforms (B, length) in [-1, 1] from log-mel frames: least-squares inverse mel scale, then
    Griffin-Lim phase estimation from random start phases drawn from ``seed`` (the global RNG is
    left as it was)."""
    import torchaudio.transforms as AT

    power = (frames.exp() - config.floor).clamp_min(0)
    inverse = AT.InverseMelScale(config.n_fft // 2 + 1, config.n_mels, config.sample_rate)
    linear = inverse(power).clamp_min(0)
    vocoder = AT.GriffinLim(n_fft=config.n_fft, hop_length=config.hop_length, power=2.0, n_iter=iterations,
                            length=length, rand_init=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # GriffinLim draws its start phases from the global RNG
        return vocoder(linear).clamp(-1, 1)
