"""A DCGAN-style GAN with a choice of loss and of defence against mode collapse.

Losses: ``"ns"``, the non-saturating loss of Goodfellow et al. 2014, and ``"wgan-gp"``, the
Wasserstein critic with gradient penalty of Gulrajani et al. 2017 (the critic trains
``n_critic`` times per generator step). Diversity: ``"minibatch-discrimination"`` (Salimans et
al. 2016) or ``"minibatch-stddev"`` (Karras et al. 2018) give the discriminator features of the
whole batch, so a generator that collapses to a few images is easy to tell apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gentoolkit.errors import ConfigError

from gentoolkit_image.models.base import ImageModel
from gentoolkit_image.models.convnets import ConvDecoder, ConvEncoder, with_labels

LOSSES = ("ns", "wgan-gp")
DIVERSITY = ("none", "minibatch-discrimination", "minibatch-stddev")


@dataclass
class GANParams:
    latent_dim: int = 32
    width: int = 32
    loss: str = "ns"  # ns | wgan-gp
    diversity: str = "none"  # none | minibatch-discrimination | minibatch-stddev
    gp_weight: float = 10.0
    n_critic: int = 0  # critic updates per generator update; 0: the loss's default (ns 1, wgan-gp 5)
    lr: float = 0.0  # 0: the loss's default (ns 2e-4, wgan-gp 1e-4)

PER_LOSS = {"ns": {"n_critic": 1, "lr": 2e-4, "betas": (0.5, 0.999)},
            "wgan-gp": {"n_critic": 5, "lr": 1e-4, "betas": (0.0, 0.9)}}


class MinibatchStddev(nn.Module):
    """Appends one feature plane: the mean over features of the per-feature standard deviation
    across the batch (0 for a batch of identical images)."""

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, C + 1, H, W)
        std = x.float().var(dim=0, unbiased=False).add(1e-8).sqrt().mean()
        return torch.cat([x, std.to(x.dtype).expand(x.shape[0], 1, *x.shape[2:])], 1)


class MinibatchDiscrimination(nn.Module):
    """Appends ``out_features`` closeness scores to other samples of the batch (Salimans 2016):
    o_b(x_i) = sum_j exp(-||M_i,b - M_j,b||_1) over j != i, with M = x T."""

    def __init__(self, in_features: int, out_features: int = 16, kernel_dim: int = 8):
        super().__init__()
        self.out_features, self.kernel_dim = out_features, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, out_features * kernel_dim) * 0.05)

    def forward(self, x: Tensor) -> Tensor:  # (B, A) -> (B, A + out_features)
        m = (x @ self.T).view(-1, self.out_features, self.kernel_dim)  # (B, O, K)
        distance = (m[:, None] - m[None]).abs().sum(-1)  # (B, B, O)
        closeness = torch.exp(-distance).sum(1) - 1  # minus each sample's match with itself
        return torch.cat([x, closeness], 1)


class Discriminator(nn.Module):
    """Image (and label planes) -> one score per image; no batch norm, so WGAN-GP's per-sample
    gradient penalty stays valid."""

    def __init__(self, image_shape: tuple[int, int, int], width: int, num_classes: int, diversity: str):
        super().__init__()
        self.num_classes = num_classes
        self.encoder = ConvEncoder(image_shape, width, extra_channels=num_classes, batch_norm=False)
        channels, (h, w) = self.encoder.out_channels, self.encoder.out_size
        self.stddev = MinibatchStddev() if diversity == "minibatch-stddev" else None
        features = (channels + (self.stddev is not None)) * h * w
        self.minibatch = MinibatchDiscrimination(features) if diversity == "minibatch-discrimination" else None
        self.head = nn.Linear(features + (self.minibatch.out_features if self.minibatch else 0), 1)

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:  # (B, F), before the batch-level layers
        return self.encoder(with_labels(x * 2 - 1, y, self.num_classes)).flatten(1)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:  # (B,)
        h = self.encoder(with_labels(x * 2 - 1, y, self.num_classes))
        if self.stddev is not None:
            h = self.stddev(h)
        h = h.flatten(1)
        if self.minibatch is not None:
            h = self.minibatch(h)
        return self.head(h).squeeze(1)


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP: mean (||grad critic(x_hat)||_2 - 1)^2 at random points between real and fake."""
    eps = torch.rand(len(real), *([1] * (real.dim() - 1)), generator=generator).to(real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


class GAN(ImageModel):
    """Sampler only: a GAN has no likelihood. ``discriminator_score`` rates how real images look."""

    family = "gan"

    def __init__(self, image_shape: tuple[int, int, int], classes: Sequence[str] = (), **params: Any):
        p = self.parse_params(GANParams, params)
        if p.loss not in LOSSES:
            raise ConfigError(f"GAN loss {p.loss!r} is not one of {', '.join(LOSSES)}.")
        if p.diversity not in DIVERSITY:
            raise ConfigError(f"GAN diversity {p.diversity!r} is not one of {', '.join(DIVERSITY)}.")
        p.n_critic = p.n_critic or PER_LOSS[p.loss]["n_critic"]
        p.lr = p.lr or PER_LOSS[p.loss]["lr"]
        super().__init__(image_shape, classes, **asdict(p))
        self.p = p
        self.generator = ConvDecoder(self.image_shape, p.latent_dim + self.num_classes, p.width)
        self.discriminator = Discriminator(self.image_shape, p.width, self.num_classes, p.diversity)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))  # checkpointed: resume keeps n_critic's phase

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Images in [0, 1] from latents z (B, latent_dim)."""
        if self.num_classes:
            z = torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], 1)
        return torch.sigmoid(self.generator(z))

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.p.latent_dim,)

    def critic_features(self, x: Tensor, *, condition: Tensor | None = None) -> Tensor:
        """The discriminator's convolutional features (B, F) of images x (f-AnoGAN's feature residual)."""
        y = self.labels_for(len(x), condition) if self.num_classes else None
        return self.discriminator.features(x.to(self.device).float(), y)

    @torch.no_grad()
    def discriminator_score(self, x: Tensor, *, condition: Tensor | None = None) -> Tensor:
        """The discriminator's (critic's) logit per image (B,): higher looks more real."""
        y = self.labels_for(len(x), condition) if self.num_classes else None
        return self.discriminator(x.to(self.device).float(), y).float()

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        betas = PER_LOSS[self.p.loss]["betas"]
        lr = self.p.lr
        return {"generator": torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas),
                "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=betas)}

    def training_step(self, batch: Any, optimizers: dict, runtime: Any) -> dict[str, float]:
        """One discriminator (critic) update; a generator update every ``n_critic`` steps."""
        x, y = self.unpack(batch)
        wgan = self.p.loss == "wgan-gp"
        z = torch.randn(len(x), self.p.latent_dim, device=x.device)
        with runtime.autocast():
            fake = self.generate(z, y)
            real_score, fake_score = self.discriminator(x, y), self.discriminator(fake.detach(), y)
            if wgan:
                d_loss = (fake_score - real_score).float().mean()
            else:
                d_loss = F.softplus(-real_score).float().mean() + F.softplus(fake_score).float().mean()
        losses = {"d_loss": d_loss.item()}
        if wgan:
            penalty = gradient_penalty(lambda im: self.discriminator(im, y), x, fake.detach().float())
            d_loss = d_loss + self.p.gp_weight * penalty
            losses["gradient_penalty"] = penalty.item()
        runtime.optimize(d_loss, optimizers["discriminator"])
        self.steps += 1
        if int(self.steps) % self.p.n_critic == 0:
            with runtime.autocast():
                score = self.discriminator(fake, y).float()
                g_loss = -score.mean() if wgan else F.softplus(-score).mean()
            runtime.optimize(g_loss, optimizers["generator"])
            losses["g_loss"] = g_loss.item()
        return losses

    @torch.no_grad()
    def sample(self, n: int, *, condition: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        z = torch.randn(n, self.p.latent_dim, generator=generator).to(self.device)
        return self.generate(z, self.labels_for(n, condition, generator)).float()
