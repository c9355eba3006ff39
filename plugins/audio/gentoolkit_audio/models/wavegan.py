"""WaveGAN (Donahue, McAuley and Puckette 2019): a 1-D DCGAN on raw audio, trained with WGAN-GP.

Generator: z (latent_dim) -> dense -> (16 steps, 16d channels) -> ``levels`` transposed
convolutions (kernel 25, stride 4, ReLU; tanh at the end), halving the channels each time: 16 * 4**5
= 16384 samples with the paper's 5 levels. Discriminator: the mirror image (kernel 25, stride 4,
LeakyReLU 0.2) with phase shuffle after every layer but the last: each clip's activations shift by
a random -n..n steps (reflection padding), so the critic cannot key on the period-4 artefacts of
transposed convolutions. A class-conditional model feeds the class to the generator (an embedding
added to z's projection) and to the critic as a projection term (Miyato and Koyama 2018). Clips
shorter than the generator's output are zero-padded for the critic; samples are cut to the clip.
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

KERNEL, STRIDE = 25, 4


@dataclass
class WaveGANParams:
    model_size: int = 16  # d: the paper uses 64; channels run 16d, 8d, ..., d
    latent_dim: int = 100
    phase_shuffle: int = 2  # n: the critic's activations shift by -n..n steps
    n_critic: int = 5  # critic updates per generator update
    gp_weight: float = 10.0
    lr: float = 1e-4  # Adam(beta1 0.5, beta2 0.9) for both, as in the paper


def phase_shuffle(x: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
    """Shift each item of x (B, C, T) by its own random k in -n..n steps, filling the edge by reflection."""
    if n == 0:
        return x
    shifts = torch.randint(-n, n + 1, (len(x), 1), generator=generator).to(x.device)
    index = torch.arange(x.shape[-1], device=x.device) - shifts + n  # out[t] = x[t - k]: (B, T) into the padded x
    return F.pad(x, (n, n), mode="reflect").gather(2, index[:, None].expand(-1, x.shape[1], -1))


class WaveGAN(AudioModel):
    """Sampler and Trainable (no likelihood)."""

    family = "wavegan"

    def __init__(self, length: int = 16000, sample_rate: int = 16000, classes: Sequence[str] = (), **params: Any):
        p = self.parse_params(WaveGANParams, params)
        if min(p.model_size, p.latent_dim, p.n_critic) < 1 or p.phase_shuffle < 0:
            raise ConfigError(f"wavegan: model_size, latent_dim and n_critic must be >= 1, phase_shuffle >= 0; got {p}.")
        super().__init__(length, sample_rate, classes, **asdict(p))
        self.p = p
        self.levels = max(1, math.ceil(math.log(length / 16, STRIDE)))
        self.span = 16 * STRIDE**self.levels  # generator output >= length
        d = p.model_size
        self.top = d * 2 ** (self.levels - 1)  # channels at the 16-step bottom: 16d with 5 levels
        chans = [self.top // 2**i for i in range(self.levels)] + [1]  # generator: 16d, 8d, ..., d, 1
        self.project = nn.Linear(p.latent_dim, 16 * self.top)
        up = []
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            up += [nn.ConvTranspose1d(c_in, c_out, KERNEL, STRIDE, KERNEL // 2 - 1, output_padding=1),
                   nn.Tanh() if c_out == 1 else nn.ReLU()]
        self.generator_net = nn.Sequential(*up)
        self.critic_convs = nn.ModuleList(nn.Conv1d(c_in, c_out, KERNEL, STRIDE, KERNEL // 2 - 1)
                                          for c_in, c_out in zip(chans[::-1][:-1], chans[::-1][1:]))
        self.critic_out = nn.Linear(16 * self.top, 1)
        self.embed_z = nn.Embedding(self.num_classes, 16 * self.top) if self.num_classes else None
        self.embed_critic = nn.Embedding(self.num_classes, 16 * self.top) if self.num_classes else None
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))  # checkpointed: resume keeps n_critic's phase

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Clips (B, length) in [-1, 1] from latents (B, latent_dim)."""
        h = self.project(z)
        if self.embed_z is not None:
            h = h + self.embed_z(y)
        out = self.generator_net(F.relu(h).view(len(z), self.top, 16))  # (B, 1, span)
        return out[:, 0, :self.length]

    def critic(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Critic scores (B,) of clips (B, length); phase shuffle after every layer but the last."""
        h = F.pad(x, (0, self.span - x.shape[-1]))[:, None]
        for i, conv in enumerate(self.critic_convs):
            h = F.leaky_relu(conv(h), 0.2)
            if i < len(self.critic_convs) - 1:
                h = phase_shuffle(h, self.p.phase_shuffle, generator)
        h = h.flatten(1)
        score = self.critic_out(h)[:, 0]
        if self.embed_critic is not None:
            score = score + (self.embed_critic(y) * h).sum(1)
        return score

    # --- Trainable -------------------------------------------------------------------------------

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        critic = [*self.critic_convs.parameters(), *self.critic_out.parameters()]
        critic += list(self.embed_critic.parameters()) if self.embed_critic is not None else []
        generator = [*self.project.parameters(), *self.generator_net.parameters()]
        generator += list(self.embed_z.parameters()) if self.embed_z is not None else []
        return {"critic": torch.optim.Adam(critic, lr=self.p.lr, betas=(0.5, 0.9)),
                "generator": torch.optim.Adam(generator, lr=self.p.lr, betas=(0.5, 0.9))}

    def gradient_penalty(self, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor:
        """WGAN-GP: mean (||grad critic(x_hat)||_2 - 1)^2 at random points between real and fake."""
        eps = torch.rand(len(real), 1, device=real.device)
        mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(self.critic(mixed, y).sum(), mixed, create_graph=True)
        return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()

    def training_step(self, batch: Any, optimizers: dict, runtime: Any) -> dict[str, float]:
        """One critic update; a generator update every ``n_critic`` steps."""
        x, y = self.unpack(batch)
        z = torch.randn(len(x), self.p.latent_dim, device=x.device)
        with runtime.autocast():
            fake = self.generate(z, y)
            wasserstein = (self.critic(fake.detach(), y) - self.critic(x, y)).float().mean()
        penalty = self.gradient_penalty(x.float(), fake.detach().float(), y)
        runtime.optimize(wasserstein + self.p.gp_weight * penalty, optimizers["critic"])
        losses = {"critic_loss": wasserstein.item(), "gradient_penalty": penalty.item()}
        self.steps += 1
        if int(self.steps) % self.p.n_critic == 0:
            with runtime.autocast():
                g_loss = -self.critic(fake, y).float().mean()
            runtime.optimize(g_loss, optimizers["generator"])
            losses["generator_loss"] = g_loss.item()
        return losses

    # --- Sampler ---------------------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, *, condition: Any = None, generator: torch.Generator | None = None,
               temperature: float = 1.0, length: int | None = None) -> Tensor:
        """``n`` clips (n, length) in [-1, 1] from z ~ N(0, temperature**2 I)."""
        if length not in (None, 0, self.length):
            raise ConfigError(f"wavegan draws clips of its training length ({self.length} samples); got length={length}.")
        y = self.labels_for(n, condition, generator)
        z = torch.randn(n, self.p.latent_dim, generator=generator).to(self.device) * temperature
        return self.generate(z, y).float()
