"""CTGAN (Xu et al. 2019), class-conditional, after the ``ctgan`` package's implementation.

The class label is the first discrete column: the generator outputs it beside the features, and
the conditional vector picks one discrete column (the label or a categorical feature) per row.
Training-by-sampling: the column is uniform, its category drawn with log-frequency, and the real
rows shown to the critic are drawn among those holding that category, so rare classes and
categories are learnt. Residual generator with batch norm, Gumbel-softmax (tau 0.2) outputs, a
PacGAN critic (``pac`` rows judged together) trained as a WGAN-GP, plus the generator's
cross-entropy on the conditioned column. One epoch is ``len(table) // batch_size`` steps, as in
``ctgan``; the rows come from training-by-sampling, not from the data loader's order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from gentoolkit import ConfigError
from gentoolkit.config import parse_params
from gentoolkit_tabular.base import TabularGenerator
from gentoolkit_tabular.transformer import Span


@dataclass
class CTGANParams:
    embedding_dim: int = 128  # noise size
    generator_dim: tuple[int, ...] = (256, 256)  # residual layers
    discriminator_dim: tuple[int, ...] = (256, 256)
    generator_lr: float = 2e-4
    generator_decay: float = 1e-6
    discriminator_lr: float = 2e-4
    discriminator_decay: float = 1e-6
    discriminator_steps: int = 1  # critic updates per generator update
    pac: int = 10  # rows the critic judges together (PacGAN); the batch is rounded down to a multiple
    gradient_penalty: float = 10.0
    log_frequency: bool = True  # draw conditioned categories by log-frequency (training-by-sampling)
    max_modes: int = 10
    seed: int = 0
    classes: tuple[str, ...] = ()  # class names, for a consumer to see before training; empty: the table's


class Residual(nn.Module):
    def __init__(self, width_in: int, width_out: int):
        super().__init__()
        self.fc, self.bn = nn.Linear(width_in, width_out), nn.BatchNorm1d(width_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.relu(self.bn(self.fc(x))), x], dim=1)


class Critic(nn.Module):
    def __init__(self, width_in: int, dims: tuple[int, ...], pac: int):
        super().__init__()
        self.pac, layers, width = pac, [], width_in * pac
        for dim in dims:
            layers += [nn.Linear(width, dim), nn.LeakyReLU(0.2), nn.Dropout(0.5)]
            width = dim
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(-1, x.shape[1] * self.pac))

    def gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        alpha = torch.rand(len(real) // self.pac, 1, 1, device=real.device).expand(-1, self.pac, real.shape[1])
        mixed = (alpha.reshape(-1, real.shape[1]) * real + (1 - alpha.reshape(-1, real.shape[1])) * fake)
        mixed.requires_grad_(True)
        grad = torch.autograd.grad(self(mixed).sum(), mixed, create_graph=True)[0]
        return ((grad.reshape(-1, self.pac * real.shape[1]).norm(2, dim=1) - 1) ** 2).mean()


class CTGAN(TabularGenerator):
    name = "tabular-ctgan"

    def __init__(self, transformer: dict[str, Any] | None = None, **params: Any):
        params = parse_params(CTGANParams, params, "tabular-ctgan")
        if params.pac < 1:
            raise ConfigError(f"tabular-ctgan: pac must be >= 1, got {params.pac}.")
        super().__init__(params, transformer)

    def build(self) -> None:
        t, p = self.transformer, self.params
        n_classes = len(t.classes)
        # discrete columns of the conditional vector, as spans of the generator's output: the label
        # (appended after the features), then each categorical feature
        self.discrete = [Span(t.output_dim, n_classes, "softmax", -1)]
        self.discrete += [s for s in t.spans if s.activation == "softmax" and t.columns[s.column].kind == "categorical"]
        self.cond_offsets = np.cumsum([0] + [s.width for s in self.discrete])
        self.data_dim, self.cond_dim = t.output_dim + n_classes, int(self.cond_offsets[-1])
        layers, width = [], p.embedding_dim + self.cond_dim
        for dim in p.generator_dim:
            layers.append(Residual(width, dim))
            width += dim
        self.generator = nn.Sequential(*layers, nn.Linear(width, self.data_dim))
        self.critic = Critic(self.data_dim + self.cond_dim, tuple(p.discriminator_dim), p.pac)

    def configure_optimizers(self) -> Mapping[str, torch.optim.Optimizer]:
        p = self.params
        return {"generator": torch.optim.Adam(self.generator.parameters(), lr=p.generator_lr, betas=(0.5, 0.9),
                                              weight_decay=p.generator_decay),
                "critic": torch.optim.Adam(self.critic.parameters(), lr=p.discriminator_lr, betas=(0.5, 0.9),
                                           weight_decay=p.discriminator_decay)}

    # --- training-by-sampling ------------------------------------------------------------------

    def setup(self, dataset: Any) -> None:
        super().setup(dataset)
        table = self._train_table
        self._real, self._labels = torch.as_tensor(table.features), torch.as_tensor(table.labels)
        codes = [table.labels] + [table.features[:, s.column].astype(np.int64) for s in self.discrete[1:]]
        # rows sorted by category, per discrete column: a category's rows are order[start:start + count]
        self._order = [torch.as_tensor(np.argsort(c, kind="stable")) for c in codes]
        counts = [np.bincount(c, minlength=s.width) for c, s in zip(codes, self.discrete)]
        self._count = [torch.as_tensor(n) for n in counts]
        self._start = [torch.as_tensor(np.concatenate([[0], np.cumsum(n)[:-1]])) for n in counts]
        weights = [np.log1p(n) if self.params.log_frequency else n.astype(np.float64) for n in counts]
        self._category_probs = [torch.as_tensor(w / w.sum()) for w in weights]

    def sample_condition(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training-by-sampling: (cond (n, cond_dim), discrete column (n,), category (n,))."""
        column = torch.randint(len(self.discrete), (n,))
        category = torch.zeros(n, dtype=torch.long)
        for d in range(len(self.discrete)):
            rows = column == d
            if rows.any():
                category[rows] = torch.multinomial(self._category_probs[d], int(rows.sum()), replacement=True)
        cond = torch.zeros(n, self.cond_dim)
        cond[torch.arange(n), torch.as_tensor(self.cond_offsets)[column] + category] = 1
        return cond, column, category

    def real_rows(self, column: torch.Tensor, category: torch.Tensor) -> torch.Tensor:
        """For each (column, category), a random training row holding it, encoded with the label appended."""
        index = torch.zeros(len(column), dtype=torch.long)
        for d in range(len(self.discrete)):
            rows = column == d
            k = category[rows]
            offset = (torch.rand(len(k)) * self._count[d][k]).long()
            index[rows] = self._order[d][self._start[d][k] + offset]
        x = self.transformer.encode(self._real[index])
        y = nn.functional.one_hot(self._labels[index], len(self.transformer.classes)).float()
        return torch.cat([x, y], dim=1)

    def activate(self, out: torch.Tensor) -> torch.Tensor:
        parts = [torch.tanh(out[:, s.start:s.start + 1]) if s.activation == "tanh"
                 else nn.functional.gumbel_softmax(out[:, s.start:s.start + s.width], tau=0.2)
                 for s in [*self.transformer.spans, self.discrete[0]]]
        return torch.cat(parts, dim=1)

    def condition_loss(self, out: torch.Tensor, column: torch.Tensor, category: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the generator's output on each row's conditioned column."""
        loss = out.new_zeros(())
        for d, span in enumerate(self.discrete):
            rows = column == d
            if rows.any():
                logits = out[rows.to(out.device), span.start:span.start + span.width]
                loss = loss + nn.functional.cross_entropy(logits, category[rows].to(out.device), reduction="sum")
        return loss / len(out)

    def training_step(self, batch: Any, optimizers: Mapping[str, torch.optim.Optimizer],
                      runtime: Any) -> dict[str, float]:
        if self._train_table is None:
            raise ConfigError("tabular-ctgan trains through gentoolkit.training.fit, which calls setup(table) first.")
        pac, device = self.params.pac, self.device
        n = max(pac, len(batch[0]) // pac * pac)
        for _ in range(self.params.discriminator_steps):
            cond, column, category = self.sample_condition(n)
            perm = torch.randperm(n)
            real = self.real_rows(column[perm], category[perm]).to(device)
            cond, real_cond = cond.to(device), cond[perm].to(device)
            with torch.no_grad():
                fake = self.activate(self.generator(torch.cat([self.noise((n, self.params.embedding_dim), None),
                                                               cond], dim=1)))
            real_in, fake_in = torch.cat([real, real_cond], dim=1), torch.cat([fake, cond], dim=1)
            wasserstein = self.critic(real_in).mean() - self.critic(fake_in).mean()
            penalty = self.critic.gradient_penalty(real_in, fake_in)
            runtime.optimize(-wasserstein + self.params.gradient_penalty * penalty, optimizers["critic"])
        cond, column, category = self.sample_condition(n)
        cond = cond.to(device)
        out = self.generator(torch.cat([self.noise((n, self.params.embedding_dim), None), cond], dim=1))
        adversarial = -self.critic(torch.cat([self.activate(out), cond], dim=1)).mean()
        conditional = self.condition_loss(out, column, category)
        runtime.optimize(adversarial + conditional, optimizers["generator"])
        return {"critic": -wasserstein.item(), "penalty": penalty.item(), "generator": adversarial.item(),
                "condition": conditional.item()}

    def generate(self, labels: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, Any]:
        cond = torch.zeros(len(labels), self.cond_dim)
        cond[torch.arange(len(labels)), labels] = 1  # the label's block comes first
        z = self.noise((len(labels), self.params.embedding_dim), generator)
        out = self.generator(torch.cat([z, cond.to(self.device)], dim=1))
        return self.transformer.squash(out[:, :self.transformer.output_dim]), None


def param_schema() -> dict[str, Any]:
    return {**{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(CTGANParams()).items()},
            "transformer": None}
