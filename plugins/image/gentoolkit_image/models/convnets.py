"""DCGAN-style convolutional stacks shared by the VAE and the GAN.

The encoder halves the image with stride-2 convolutions while its side is even and above 4
(8 -> 4, 16 -> 8 -> 4, 28 -> 14 -> 7, 32 -> 16 -> 8 -> 4); the decoder mirrors it with
transposed convolutions, so both fit any of the plugin's image sizes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def num_downsamples(height: int, width: int) -> int:
    n = 0
    while height % 2 == 0 and width % 2 == 0 and min(height, width) > 4:
        height, width, n = height // 2, width // 2, n + 1
    return n


def widths(width: int, n: int, cap: int = 4) -> list[int]:
    """Channel widths of the n + 1 feature maps: doubling per halving, at most ``cap`` times."""
    return [width * min(2 ** i, cap) for i in range(n + 1)]


class ConvEncoder(nn.Module):
    """(B, C, H, W) -> feature map (B, out_channels, H / 2^n, W / 2^n)."""

    def __init__(self, image_shape: tuple[int, int, int], width: int = 32, extra_channels: int = 0,
                 batch_norm: bool = True):
        super().__init__()
        c, h, w = image_shape
        n = num_downsamples(h, w)
        chans = widths(width, n)
        layers: list[nn.Module] = [nn.Conv2d(c + extra_channels, chans[0], 3, 1, 1), nn.LeakyReLU(0.2)]
        for c_in, c_out in zip(chans, chans[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1)]
            layers += [nn.BatchNorm2d(c_out)] if batch_norm else []
            layers += [nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)
        self.out_channels, self.out_size = chans[-1], (h // 2 ** n, w // 2 ** n)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """(B, in_features) -> logits (B, C, H, W): a linear map to the smallest feature map, then
    transposed convolutions doubling it back to the image size."""

    def __init__(self, image_shape: tuple[int, int, int], in_features: int, width: int = 32):
        super().__init__()
        c, h, w = image_shape
        n = num_downsamples(h, w)
        chans = widths(width, n)[::-1]
        self.start = (chans[0], h // 2 ** n, w // 2 ** n)
        self.project = nn.Sequential(nn.Linear(in_features, chans[0] * self.start[1] * self.start[2]),
                                     nn.BatchNorm1d(chans[0] * self.start[1] * self.start[2]), nn.ReLU())
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans, chans[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [nn.Conv2d(chans[-1], c, 3, 1, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.project(z).view(-1, *self.start))


def one_hot_planes(y: Tensor, num_classes: int, height: int, width: int) -> Tensor:
    """Labels (B,) as one-hot feature planes (B, num_classes, H, W) to concatenate to images."""
    onehot = nn.functional.one_hot(y, num_classes).float()
    return onehot[:, :, None, None].expand(-1, -1, height, width)


def with_labels(x: Tensor, y: Tensor | None, num_classes: int) -> Tensor:
    """Images with one-hot label planes appended, or unchanged for an unconditional model."""
    if not num_classes:
        return x
    return torch.cat([x, one_hot_planes(y, num_classes, x.shape[-2], x.shape[-1]).to(x.dtype)], 1)
