"""Audio metrics: bits per sample against the uniform and mu-law marginal baselines, and
log-spectral distance and mel-cepstral distortion between clips."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from gentoolkit import ConfigError


def mu_law_codes(waveforms: Tensor, levels: int = 256) -> Tensor:
    import torchaudio.functional as AF

    return AF.mu_law_encoding(torch.as_tensor(waveforms).float().clamp(-1, 1), levels)


def marginal_bits_per_sample(train: Tensor, test: Tensor, levels: int = 256) -> float:
    """Cross-entropy (bits per sample) of the test clips' mu-law codes under the train clips' code
    histogram (add-one smoothed): the best a model that ignores context can do."""
    counts = torch.bincount(mu_law_codes(train, levels).flatten(), minlength=levels).double() + 1
    log_p = torch.log2(counts / counts.sum())
    return float(-log_p[mu_law_codes(test, levels).flatten()].mean())


def bits_per_sample(model: Any, waveforms: Tensor, condition: Tensor | None = None) -> float:
    """Mean -log2 p(x) per audio sample of a Density model on ``waveforms`` (B, T)."""
    log_prob = model.log_prob(waveforms, condition=condition)
    return float(-log_prob.double().mean() / (waveforms.shape[-1] * math.log(2)))


def log_spectral_distance(estimate: Tensor, reference: Tensor, n_fft: int = 512, eps: float = 1e-10) -> Tensor:
    """LSD in dB per clip (B,): for each frame the RMS over frequencies of the difference of the
    two log power spectra (10 log10), averaged over frames. Clips are paired by position."""
    import torchaudio.transforms as AT

    estimate, reference = torch.as_tensor(estimate).float(), torch.as_tensor(reference).float()
    if estimate.shape != reference.shape:
        raise ConfigError(f"log-spectral distance compares clips pairwise; got shapes {tuple(estimate.shape)} "
                          f"and {tuple(reference.shape)}.")
    spec = AT.Spectrogram(n_fft=n_fft, hop_length=n_fft // 4, power=2.0)
    diff = 10 * torch.log10(spec(estimate) + eps) - 10 * torch.log10(spec(reference) + eps)  # (B, F, frames)
    return diff.pow(2).mean(-2).sqrt().mean(-1)


def mel_cepstral_distortion(estimate: Tensor, reference: Tensor, sample_rate: int = 16000, n_fft: int = 512,
                            hop_length: int = 128, bands: int = 20, coefficients: int = 16,
                            aligning: str = "dtw") -> Tensor:
    """MCD in dB per clip pair (B,) after Kubichek (1993), computed by the ``mel-cepstral-distance``
    library: mel cepstra (``bands`` mel bands, coefficients 1..``coefficients``-1) of the two
    peak-normalised clips' STFTs (Hann, ``n_fft``/``hop_length`` samples; the library's defaults for
    files), frames aligned by DTW (``aligning="dtw"``) or zero-padding (``"pad"``). 0 for identical clips."""
    from mel_cepstral_distance import compare_amplitude_spectrograms

    estimate, reference = torch.as_tensor(estimate).float(), torch.as_tensor(reference).float()
    if estimate.dim() != 2 or reference.dim() != 2 or len(estimate) != len(reference):
        raise ConfigError(f"mel-cepstral distortion compares clips pairwise: two (B, T) batches of equal B; got "
                          f"shapes {tuple(estimate.shape)} and {tuple(reference.shape)}.")
    window = torch.hann_window(n_fft)
    peak = [x.abs().amax(1, keepdim=True).clamp_min(1e-12) for x in (estimate, reference)]
    specs = [torch.stft((x / p).double(), n_fft, hop_length, window=window.double(), return_complex=True)
             .transpose(1, 2).numpy() for x, p in zip((estimate, reference), peak)]  # (B, frames, bins)
    n_fft_ms = 1000 * n_fft / sample_rate
    return torch.tensor([compare_amplitude_spectrograms(a, b, sample_rate, n_fft_ms, M=bands, D=coefficients,
                                                        aligning=aligning)[0] for a, b in zip(*specs)],
                        dtype=torch.float32)


def mean_spectrum_distance(samples: Tensor, reference: Tensor, n_fft: int = 512, eps: float = 1e-10) -> float:
    """RMS difference in dB between the average power spectra of two sets of clips (unpaired):
    how far the samples' overall timbre is from the reference set's."""
    import torchaudio.transforms as AT

    spec = AT.Spectrogram(n_fft=n_fft, hop_length=n_fft // 4, power=2.0)
    mean_db = [10 * torch.log10(spec(torch.as_tensor(x).float()).mean((0, -1)) + eps) for x in (samples, reference)]
    return float((mean_db[0] - mean_db[1]).pow(2).mean().sqrt())


def _bits(samples: Tensor, model: Any = None, condition: Tensor | None = None,
          reference: Tensor | None = None) -> dict[str, float]:
    from gentoolkit import Density

    if model is None or not isinstance(model, Density):
        raise ConfigError("audio-bits-per-sample needs model= a model with log_prob (a Density, e.g. audio-wavenet).")
    levels = int(getattr(model, "params", {}).get("quantization", 256))
    out = {"bits_per_sample": bits_per_sample(model, torch.as_tensor(samples).float(), condition),
           "uniform_bits_per_sample": math.log2(levels)}
    if reference is not None:
        out["marginal_bits_per_sample"] = marginal_bits_per_sample(torch.as_tensor(reference), samples, levels)
    return out


def _lsd(samples: Tensor, reference: Tensor | None = None, n_fft: int = 512) -> dict[str, float]:
    if reference is None:
        raise ConfigError("audio-log-spectral-distance needs reference= the clips to compare with, paired.")
    return {"log_spectral_distance_db": float(log_spectral_distance(samples, reference, n_fft).mean())}


def _mcd(samples: Tensor, reference: Tensor | None = None, sample_rate: int = 16000,
         aligning: str = "dtw") -> dict[str, float]:
    if reference is None:
        raise ConfigError("audio-mel-cepstral-distortion needs reference= the clips to compare with, paired.")
    if aligning not in ("dtw", "pad"):
        raise ConfigError(f"audio-mel-cepstral-distortion: aligning must be 'dtw' or 'pad', got {aligning!r}.")
    mcd = mel_cepstral_distortion(samples, reference, sample_rate, aligning=aligning)
    return {f"mel_cepstral_distortion_{aligning}_db": float(mcd.mean())}


def _mean_spectrum(samples: Tensor, reference: Tensor | None = None, n_fft: int = 512) -> dict[str, float]:
    if reference is None:
        raise ConfigError("audio-mean-spectrum-distance needs reference= a set of real clips.")
    return {"mean_spectrum_distance_db": mean_spectrum_distance(samples, reference, n_fft)}


def _digits(samples: Tensor, reference: Tensor | None = None, labels: Tensor | None = None) -> dict[str, float]:
    from gentoolkit_audio.classifier import digit_scores

    return digit_scores(torch.as_tensor(samples), reference, labels)


EVALUATORS = {"digit-classifier-scores": _digits, "bits-per-sample": _bits, "log-spectral-distance": _lsd,
              "mel-cepstral-distortion": _mcd, "mean-spectrum-distance": _mean_spectrum}


def evaluator(name: str) -> Any:
    """The evaluator function registered as ``audio-NAME``."""
    from gentoolkit import UnknownNameError

    if name not in EVALUATORS:
        raise UnknownNameError("audio evaluator", name, EVALUATORS)
    return EVALUATORS[name]
