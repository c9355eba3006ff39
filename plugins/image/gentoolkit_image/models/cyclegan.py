"""CycleGAN (Zhu et al. 2017): translation between two image domains without paired examples.

Two generators map A -> B and B -> A; two PatchGAN discriminators judge, patch by patch, whether
an image is a real one of their domain. The generators are trained with the least-squares GAN
loss, a cycle loss (A -> B -> A gives back the input) and an identity loss (a B image fed to the
A -> B generator stays as it is). There is no sampling from noise: call ``translate``.
The digits demo (``data.unpaired_domains``, ``translation.py``) makes domain B an inverted or
rotated copy of half the dataset and pairs nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gentoolkit.errors import ConfigError, GentoolkitError
from gentoolkit_image.models.base import ImageModel

DIRECTIONS = ("a2b", "b2a")


@dataclass
class CycleGANParams:
    channels: int = 16  # generator width at full resolution (doubled after downsampling)
    num_res_blocks: int = 3  # residual blocks at the generator's coarse resolution
    disc_channels: int = 16  # first discriminator layer's width
    disc_layers: int = 2  # stride-2 layers of the PatchGAN; each patch sees about 2^(n+1) + 1 pixels
    cycle_weight: float = 10.0  # lambda of the cycle loss
    identity_weight: float = 5.0  # identity loss weight (Zhu et al. use half of cycle_weight)
    lr: float = 2e-4
    beta1: float = 0.5


def conv3x3(in_ch: int, out_ch: int) -> nn.Conv2d:
    """A size-keeping 3x3 convolution with reflection padding (no dark borders to learn)."""
    return nn.Conv2d(in_ch, out_ch, 3, padding=1, padding_mode="reflect")


class ResidualBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(
            conv3x3(ch, ch), nn.InstanceNorm2d(ch, affine=True), nn.ReLU(),
            conv3x3(ch, ch), nn.InstanceNorm2d(ch, affine=True))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """ResNet generator: a stem, one stride-2 downsampling, residual blocks, upsampling, output in [0, 1]."""

    def __init__(self, in_ch: int, ch: int, num_res_blocks: int):
        super().__init__()
        self.net = nn.Sequential(
            conv3x3(in_ch, ch), nn.InstanceNorm2d(ch, affine=True), nn.ReLU(),
            nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1), nn.InstanceNorm2d(2 * ch, affine=True), nn.ReLU(),
            *[ResidualBlock(2 * ch) for _ in range(num_res_blocks)],
            nn.Upsample(scale_factor=2.0, mode="nearest"),
            conv3x3(2 * ch, ch), nn.InstanceNorm2d(ch, affine=True), nn.ReLU(),
            conv3x3(ch, in_ch), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: a map of real/fake scores, one per overlapping patch (LSGAN: no sigmoid)."""

    def __init__(self, in_ch: int, ch: int, num_layers: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_ch, ch, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
        for _ in range(num_layers - 1):
            layers += [nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1), nn.InstanceNorm2d(2 * ch, affine=True),
                       nn.LeakyReLU(0.2)]
            ch *= 2
        layers.append(nn.Conv2d(ch, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def lsgan_loss(scores: Tensor, real: bool) -> Tensor:
    """Least-squares GAN loss: scores pulled to 1 for real, 0 for fake (Mao et al. 2017)."""
    return ((scores.float() - (1.0 if real else 0.0)) ** 2).mean()


class CycleGAN(ImageModel):
    """Unpaired A <-> B translation; ``training_step`` takes ``x = (batch_a, batch_b)``."""

    family = "cyclegan"

    def __init__(self, image_shape: tuple[int, int, int], classes: Sequence[str] = (), **params: Any):
        p = self.parse_params(CycleGANParams, params)
        super().__init__(image_shape, (), **asdict(p))
        c, h, w = self.image_shape
        if h % 2 or w % 2:
            raise ConfigError(f"cyclegan: images of {h}x{w} must have even sides; resize them.")
        self.p = p
        self.g_ab, self.g_ba = (Generator(c, p.channels, p.num_res_blocks) for _ in range(2))
        self.d_a, self.d_b = (PatchDiscriminator(c, p.disc_channels, p.disc_layers) for _ in range(2))

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        betas = (self.p.beta1, 0.999)
        generators = [*self.g_ab.parameters(), *self.g_ba.parameters()]
        discriminators = [*self.d_a.parameters(), *self.d_b.parameters()]
        return {"generator": torch.optim.Adam(generators, lr=self.p.lr, betas=betas),
                "discriminator": torch.optim.Adam(discriminators, lr=self.p.lr, betas=betas)}

    def generator_losses(self, a: Tensor, b: Tensor) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """The generators' losses on a batch of each domain, and the fakes (B-like, A-like)."""
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        losses = {
            "gan": lsgan_loss(self.d_b(fake_b), True) + lsgan_loss(self.d_a(fake_a), True),
            "cycle": F.l1_loss(self.g_ba(fake_b), a) + F.l1_loss(self.g_ab(fake_a), b),
            "identity": F.l1_loss(self.g_ab(b), b) + F.l1_loss(self.g_ba(a), a),
        }
        return losses, fake_b, fake_a

    def training_step(self, batch: Any, optimizers: dict[str, torch.optim.Optimizer],
                      runtime: Any) -> dict[str, float]:
        """One generator update, then one update of both discriminators on the fresh fakes."""
        x, _ = batch
        if not isinstance(x, (tuple, list)) or len(x) != 2:
            raise GentoolkitError("cyclegan: training_step needs batch = ((domain A, domain B), labels).")
        a, b = x
        self.d_a.requires_grad_(False)
        self.d_b.requires_grad_(False)
        with runtime.autocast():
            losses, fake_b, fake_a = self.generator_losses(a, b)
            g_loss = (losses["gan"] + self.p.cycle_weight * losses["cycle"]
                      + self.p.identity_weight * losses["identity"])
        runtime.optimize(g_loss, optimizers["generator"])
        self.d_a.requires_grad_(True)
        self.d_b.requires_grad_(True)
        with runtime.autocast():
            d_a = 0.5 * (lsgan_loss(self.d_a(a), True) + lsgan_loss(self.d_a(fake_a.detach()), False))
            d_b = 0.5 * (lsgan_loss(self.d_b(b), True) + lsgan_loss(self.d_b(fake_b.detach()), False))
        runtime.optimize(d_a + d_b, optimizers["discriminator"])
        return {"generator": g_loss.item(), "cycle": losses["cycle"].item(),
                "identity": losses["identity"].item(), "disc_a": d_a.item(), "disc_b": d_b.item()}

    @torch.no_grad()
    def translate(self, x: Tensor, direction: str = "a2b") -> Tensor:
        """Images of one domain (B, C, H, W) in [0, 1] rendered in the other: ``a2b`` or ``b2a``."""
        if direction not in DIRECTIONS:
            raise ConfigError(f"cyclegan: unknown direction {direction!r}; use one of {', '.join(DIRECTIONS)}.")
        generator = self.g_ab if direction == "a2b" else self.g_ba
        return generator(x.to(self.device)).clamp(0, 1)
