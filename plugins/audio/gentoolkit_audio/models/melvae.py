"""A mel-spectrogram VAE with a Griffin-Lim vocoder: the CPU-sized route to audio that sounds like its class.

Clips become log-mel frames (``vocoder.mel``: 64 bands, hop 128 at 16 kHz), normalised per band
by statistics taken from the first training batch (kept as buffers, like Glow's ActNorm init).
A class-conditional convolutional VAE models the frames as a sequence with the mel bands as
channels (1-D convolutions over time, as in TTS decoders; 10x cheaper than 2-D ones on a CPU):
strided convolutions down to a latent vector, transposed convolutions back, the class as a learned
embedding added to both sides. The decoder is a Gaussian with one learned scale (sigma-VAE, Rybkin et al. 2021), so
reconstruction and KL balance themselves. ``sample`` decodes prior draws to frames and turns them
into waveforms with Griffin-Lim (least-squares inverse mel, then phase estimation, torchaudio).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gentoolkit import ConfigError

from gentoolkit_audio.models.base import AudioModel
from gentoolkit_audio.vocoder import MelConfig, griffin_lim, mel


@dataclass
class MelVAEParams:
    n_mels: int = 64
    n_fft: int = 512
    hop_length: int = 128
    latent_dim: int = 32
    width: int = 128  # channels after the first convolution; doubled per level up to 2 * width
    levels: int = 3  # stride-2 convolutions over time; frames are padded to a multiple of 2**levels
    kl_weight: float = 1.0
    griffin_lim_iterations: int = 64
    lr: float = 1e-3


class MelVAE(AudioModel):
    """Sampler and Trainable; the class conditions both encoder and decoder."""

    family = "mel-vae"

    def __init__(self, length: int = 16000, sample_rate: int = 16000, classes: Sequence[str] = (), **params: Any):
        p = self.parse_params(MelVAEParams, params)
        if min(p.n_mels, p.latent_dim, p.width, p.levels, p.hop_length, p.n_fft) < 1:
            raise ConfigError(f"mel-vae: every size must be >= 1; got {p}.")
        super().__init__(length, sample_rate, classes, **asdict(p))
        self.p = p
        self.mel_config = MelConfig(sample_rate, p.n_fft, p.hop_length, p.n_mels)
        self.frames = 1 + length // p.hop_length  # centred STFT frames of one clip
        step = 2**p.levels
        self.padded = math.ceil(self.frames / step) * step
        widths = [min(p.width * 2**i, 2 * p.width) for i in range(p.levels)]
        self.bottom = (widths[-1], self.padded // step)  # (channels, frames) at the bottom
        flat = math.prod(self.bottom)
        down, c_in = [], p.n_mels
        for c in widths:
            down += [nn.Conv1d(c_in, c, 4, 2, 1), nn.GroupNorm(8, c), nn.SiLU()]
            c_in = c
        self.encoder = nn.Sequential(*down, nn.Flatten())
        self.to_posterior = nn.Linear(flat, 2 * p.latent_dim)
        self.from_latent = nn.Linear(p.latent_dim, flat)
        up = []
        for c_out in [*reversed(widths[:-1]), p.width]:
            up += [nn.ConvTranspose1d(c_in, c_out, 4, 2, 1), nn.GroupNorm(8, c_out), nn.SiLU()]
            c_in = c_out
        self.decoder = nn.Sequential(*up, nn.Conv1d(c_in, p.n_mels, 3, 1, 1))
        self.embed_x = nn.Embedding(self.num_classes, flat) if self.num_classes else None
        self.embed_z = nn.Embedding(self.num_classes, flat) if self.num_classes else None
        self.log_sigma = nn.Parameter(torch.zeros(()))
        self.register_buffer("mel_mean", torch.zeros(p.n_mels, 1))
        self.register_buffer("mel_std", torch.ones(()))
        self.register_buffer("normalised", torch.zeros((), dtype=torch.bool))

    # --- waveforms <-> normalised log-mel frames -------------------------------------------------

    def frames_of(self, x: Tensor) -> Tensor:
        """Normalised log-mel frames (B, n_mels, padded frames) of waveforms (B, T)."""
        frames = mel(x, self.mel_config)  # (B, n_mels, frames)
        frames = F.pad(frames, (0, self.padded - frames.shape[-1]), value=math.log(self.mel_config.floor))
        return (frames - self.mel_mean) / self.mel_std

    def to_log_mel(self, frames: Tensor) -> Tensor:
        """Decoded normalised frames -> log-mel frames (B, n_mels, frames) of one clip."""
        return (frames * self.mel_std + self.mel_mean)[..., :self.frames]

    @torch.no_grad()
    def _normalise_from(self, x: Tensor) -> None:
        """Per-band mean and one global scale from the first training batch."""
        frames = mel(x, self.mel_config)
        self.mel_mean.copy_(frames.mean((0, 2))[:, None])
        self.mel_std.copy_((frames - self.mel_mean).std())
        self.normalised.fill_(True)

    # --- the VAE ---------------------------------------------------------------------------------

    def encode(self, frames: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        """(mean, log variance) of q(z | frames, class)."""
        h = self.encoder(frames)
        if self.embed_x is not None:
            h = h + self.embed_x(y)
        return self.to_posterior(h).chunk(2, dim=1)

    def decode(self, z: Tensor, y: Tensor | None) -> Tensor:
        """Mean normalised log-mel frames (B, n_mels, padded frames) of latents (B, latent_dim)."""
        h = self.from_latent(z)
        if self.embed_z is not None:
            h = h + self.embed_z(y)
        return self.decoder(F.silu(h).view(len(z), *self.bottom))

    def loss(self, x: Tensor, y: Tensor | None) -> dict[str, Tensor]:
        """Negative ELBO per mel value (nats), with its reconstruction and KL parts."""
        if y is None and self.num_classes:
            raise ConfigError("mel-vae: this model is class-conditional; give class labels.")
        frames = self.frames_of(x)
        mu, log_var = self.encode(frames, y)
        z = mu + torch.randn_like(mu) * (0.5 * log_var).exp()
        recon = self.decode(z, y)
        size = frames[0].numel()
        nll = (0.5 * ((frames - recon) / self.log_sigma.exp()).pow(2) + self.log_sigma
               + 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)
        kl = 0.5 * (mu.pow(2) + log_var.exp() - 1 - log_var).sum(1)
        return {"loss": (nll + self.p.kl_weight * kl).mean() / size, "reconstruction": nll.mean() / size,
                "kl": kl.mean(), "mse": (frames - recon).pow(2).mean()}

    # --- Trainable -------------------------------------------------------------------------------

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"mel_vae": torch.optim.Adam(self.parameters(), lr=self.p.lr)}

    def training_step(self, batch: Any, optimizers: dict, runtime: Any) -> dict[str, float]:
        x, y = self.unpack(batch)
        if not self.normalised:
            self._normalise_from(x)
        with runtime.autocast():
            losses = self.loss(x, y)
        runtime.optimize(losses["loss"], optimizers["mel_vae"])
        return {k: v.item() for k, v in losses.items()}

    def validation_step(self, batch: Any, runtime: Any) -> dict[str, float]:
        x, y = self.unpack(batch)
        return {"loss": self.loss(x, y)["loss"].item()}

    # --- Sampler ---------------------------------------------------------------------------------

    @torch.no_grad()
    def sample_log_mel(self, n: int, *, condition: Any = None, generator: torch.Generator | None = None,
                       temperature: float = 1.0) -> Tensor:
        """Log-mel frames (n, n_mels, frames) decoded from prior draws scaled by ``temperature``."""
        y = self.labels_for(n, condition, generator)
        z = torch.randn(n, self.p.latent_dim, generator=generator).to(self.device) * temperature
        return self.to_log_mel(self.decode(z, y)).float()

    @torch.no_grad()
    def sample(self, n: int, *, condition: Any = None, generator: torch.Generator | None = None,
               temperature: float = 1.0, length: int | None = None) -> Tensor:
        """``n`` clips (n, length) in [-1, 1]: prior draws decoded to log-mel frames, then Griffin-Lim.
        The vocoder's random start phases come from ``generator`` too, so a seed fixes the clips."""
        if length not in (None, 0, self.length):
            raise ConfigError(f"mel-vae draws clips of its training length ({self.length} samples); got length={length}.")
        frames = self.sample_log_mel(n, condition=condition, generator=generator, temperature=temperature)
        seed = int(torch.randint(2**62, (), generator=generator))
        return griffin_lim(frames.cpu(), self.length, self.mel_config, self.p.griffin_lim_iterations, seed).to(self.device)
