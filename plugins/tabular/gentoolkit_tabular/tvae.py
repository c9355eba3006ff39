"""TVAE (Xu et al. 2019), class-conditional: a VAE on CTGAN's encoded rows, the class one-hot
given to encoder and decoder. Numeric alphas have a Gaussian likelihood with a learned sigma per
dimension, one-hot spans a categorical one (cross-entropy), as in the ``ctgan`` package's TVAE.

No ``log_prob``: the ELBO would bound the density of the encoded vectors (with sampled modes),
not of the table's rows, so it is not offered as one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
from torch import nn

from gentoolkit.config import parse_params
from gentoolkit_tabular.base import TabularGenerator


@dataclass
class TVAEParams:
    embedding_dim: int = 128  # latent size
    compress_dims: tuple[int, ...] = (128, 128)  # encoder widths
    decompress_dims: tuple[int, ...] = (128, 128)  # decoder widths
    loss_factor: float = 2.0  # weight of the reconstruction term against the KL
    lr: float = 1e-3
    weight_decay: float = 1e-5
    max_modes: int = 10  # Gaussian mixture modes per numeric column, at most
    seed: int = 0  # of the mixtures' fitting
    classes: tuple[str, ...] = ()  # class names, for a consumer to see before training; empty: the table's


def mlp(dims: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(dims, dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


class TVAE(TabularGenerator):
    name = "tabular-tvae"

    def __init__(self, transformer: dict[str, Any] | None = None, **params: Any):
        super().__init__(parse_params(TVAEParams, params, "tabular-tvae"), transformer)

    def build(self) -> None:
        p, data_dim, classes = self.params, self.transformer.output_dim, len(self.transformer.classes)
        self.encoder = mlp([data_dim + classes, *p.compress_dims])
        self.to_mu = nn.Linear(p.compress_dims[-1], p.embedding_dim)
        self.to_logvar = nn.Linear(p.compress_dims[-1], p.embedding_dim)
        self.decoder = nn.Sequential(mlp([p.embedding_dim + classes, *p.decompress_dims]),
                                     nn.Linear(p.decompress_dims[-1], data_dim))
        self.sigma = nn.Parameter(torch.full((data_dim,), 0.1))

    def configure_optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        return {"vae": torch.optim.Adam(self.parameters(), lr=self.params.lr, weight_decay=self.params.weight_decay)}

    def training_step(self, batch: Any, optimizers: Mapping[str, torch.optim.Optimizer],
                      runtime: Any) -> dict[str, float]:
        features, labels = batch
        x = self.transformer.encode(features).to(features.device)
        y = nn.functional.one_hot(labels.long(), len(self.transformer.classes)).float()
        hidden = self.encoder(torch.cat([x, y], dim=1))
        mu, logvar = self.to_mu(hidden), self.to_logvar(hidden)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = self.decoder(torch.cat([z, y], dim=1))
        reconstruction = self.reconstruction_loss(recon, x) * self.params.loss_factor / len(x)
        kl = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp()) / len(x)
        runtime.optimize(reconstruction + kl, optimizers["vae"])
        self.sigma.data.clamp_(0.01, 1.0)
        return {"loss": (reconstruction + kl).item(), "reconstruction": reconstruction.item(), "kl": kl.item()}

    def reconstruction_loss(self, recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Summed negative log-likelihood of ``x`` under the decoder's output ``recon`` (up to constants)."""
        terms = []
        for span in self.transformer.spans:
            end = span.start + span.width
            if span.activation == "tanh":
                sigma = self.sigma[span.start]
                error = x[:, span.start] - torch.tanh(recon[:, span.start])
                terms.append((error**2 / 2 / sigma**2).sum() + torch.log(sigma) * len(x))
            else:
                target = x[:, span.start:end].argmax(dim=1)
                terms.append(nn.functional.cross_entropy(recon[:, span.start:end], target, reduction="sum"))
        return torch.stack(terms).sum()

    def generate(self, labels: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, Any]:
        z = self.noise((len(labels), self.params.embedding_dim), generator)
        y = nn.functional.one_hot(labels.to(self.device), len(self.transformer.classes)).float()
        out = self.decoder(torch.cat([z, y], dim=1))
        return self.transformer.squash(out), self.sigma.detach().cpu()


def param_schema() -> dict[str, Any]:
    return {**{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(TVAEParams()).items()},
            "transformer": None}
