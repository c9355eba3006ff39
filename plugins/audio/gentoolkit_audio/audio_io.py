"""Reading and writing audio files: WAV/FLAC/OGG through soundfile (libsndfile), resampling
through torchaudio, and the conversions a model of one sample rate and length needs.

torchaudio 2.11's own ``load``/``save`` need TorchCodec and FFmpeg's shared libraries; soundfile
bundles libsndfile in its wheel, so reading and writing need nothing but pip.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gentoolkit import GentoolkitError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


class AudioError(GentoolkitError):
    """An audio file or folder that cannot be read as asked."""


def read_audio(path: str | os.PathLike, sample_rate: int = 16000, strict: bool = False) -> Tensor:
    """The mono waveform (T,) float32 in [-1, 1] of an audio file, at ``sample_rate``.

    A multichannel file is averaged to mono and another sample rate is resampled, each with a
    warning naming the file (``strict``: an AudioError instead). An unreadable or empty file is an
    AudioError naming it.
    """
    import soundfile

    path = Path(path)
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, OSError) as err:
        raise AudioError(f"Cannot read audio file {path}: {err}. It must be a WAV, FLAC or OGG file; "
                         "fix, convert or remove it.") from None
    if data.shape[0] == 0:
        raise AudioError(f"Audio file {path} holds no samples (zero length); remove it or record it again.")
    changes = []
    if data.shape[1] > 1:
        changes.append(f"{data.shape[1]} channels averaged to mono")
        data = data.mean(axis=1, keepdims=True)
    waveform = torch.from_numpy(np.ascontiguousarray(data[:, 0]))
    if rate != sample_rate:
        changes.append(f"resampled from {rate} Hz to {sample_rate} Hz")
        waveform = resample(waveform, rate, sample_rate)
    if changes:
        message = f"Audio file {path}: {', '.join(changes)} (the model needs {sample_rate} Hz mono)."
        if strict:
            raise AudioError(message + " Convert the file first, or allow conversion.")
        warnings.warn(message, stacklevel=2)
    return waveform.clamp(-1.0, 1.0)


def resample(waveform: Tensor, rate: int, target: int) -> Tensor:
    """``waveform`` (..., T) from ``rate`` Hz to ``target`` Hz (torchaudio's windowed sinc)."""
    import torchaudio.functional as AF

    return waveform if rate == target else AF.resample(waveform, int(rate), int(target))


def fit_length(waveform: Tensor, length: int) -> Tensor:
    """Exactly ``length`` samples: a longer clip keeps its centre, a shorter one is padded with
    silence on both sides (centred, as the SC09 clips are)."""
    extra = waveform.shape[-1] - length
    if extra > 0:
        return waveform[..., extra // 2: extra // 2 + length]
    pad = -extra
    return torch.nn.functional.pad(waveform, (pad // 2, pad - pad // 2))


def write_wav(path: str | os.PathLike, waveform: Tensor | np.ndarray, sample_rate: int) -> Path:
    """Write a mono waveform in [-1, 1] as a 16-bit PCM WAV file."""
    import soundfile

    data = np.asarray(torch.as_tensor(waveform).detach().float().cpu().clamp(-1, 1).numpy(), dtype=np.float32)
    soundfile.write(str(path), data.reshape(-1), int(sample_rate), subtype="PCM_16")
    return Path(path)
