"""CTGAN's data transformer (Xu et al. 2019, section 4.2): rows to the vectors the networks see.

A numeric column gets mode-specific normalisation: a variational Gaussian mixture (scikit-learn's
``BayesianGaussianMixture``, Dirichlet-process prior, at most ``max_modes`` modes; modes of weight
< 0.005 are dropped) is fitted to it, and a value ``x`` becomes a one-hot mode ``k``, sampled from
its posterior, and a scalar ``alpha = (x - mu_k) / (4 sd_k)`` in [-1, 1]. A categorical column
becomes a one-hot vector. Everything fitted is plain numbers and strings: :meth:`to_json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gentoolkit_tabular.data import Column, Table

if TYPE_CHECKING:
    import torch

MIN_MODE_WEIGHT = 0.005  # as in CTGAN / RDT's ClusterBasedNormalizer
ALPHA_CLIP = 0.99


@dataclass(frozen=True)
class Span:
    """A slice of the encoded vector: ``tanh`` (a numeric column's alpha) or ``softmax`` (one-hot)."""

    start: int
    width: int
    activation: str
    column: int  # the table column it encodes


class DataTransformer:
    """Fitted per-column encodings of a table, plus its class names and class counts (the prior)."""

    def __init__(self, columns: list[Column], modes: list[dict[str, Any] | None], classes: list[str],
                 class_counts: list[int], label_name: str = "label"):
        self.columns, self.modes, self.classes = columns, modes, classes
        self.class_counts, self.label_name = class_counts, label_name
        self.spans: list[Span] = []
        start = 0
        for j, column in enumerate(columns):
            if column.kind == "numeric":
                self.spans.append(Span(start, 1, "tanh", j))
                self.spans.append(Span(start + 1, len(modes[j]["mean"]), "softmax", j))
                start += 1 + len(modes[j]["mean"])
            else:
                self.spans.append(Span(start, len(column.categories), "softmax", j))
                start += len(column.categories)
        self.output_dim = start

    @classmethod
    def fit(cls, table: Table, max_modes: int = 10, seed: int = 0) -> DataTransformer:
        modes = [_fit_modes(table.features[:, j], max_modes, seed) if column.kind == "numeric" else None
                 for j, column in enumerate(table.columns)]
        class_counts = np.bincount(table.labels, minlength=len(table.classes)).tolist()
        return cls(list(table.columns), modes, list(table.classes), class_counts, table.label_name)

    # --- JSON ----------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {"columns": [c.to_json() for c in self.columns], "modes": self.modes, "classes": self.classes,
                "class_counts": self.class_counts, "label_name": self.label_name}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DataTransformer:
        return cls([Column.from_json(c) for c in data["columns"]], data["modes"], list(data["classes"]),
                   list(data["class_counts"]), data.get("label_name", "label"))

    def check(self, table: Table, who: str) -> None:
        """Refuse a table whose columns or classes differ from the ones this transformer was fitted on."""
        if [c.name for c in table.columns] != [c.name for c in self.columns] or table.classes != self.classes:
            raise ValueError(f"{who} was fitted on columns {[c.name for c in self.columns]} and classes "
                             f"{self.classes}; this table has {[c.name for c in table.columns]} and {table.classes}.")

    # --- encoding ------------------------------------------------------------------------------

    def encode(self, features: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Rows (B, D) to encoded vectors (B, output_dim); each value's mode is drawn from its posterior."""
        import torch

        parts = []
        for j, column in enumerate(self.columns):
            x = features[:, j].double()
            if column.kind == "categorical":
                parts.append(torch.nn.functional.one_hot(x.long(), len(column.categories)).double())
                continue
            mean, std, weight = (torch.tensor(self.modes[j][k], dtype=torch.float64, device=x.device)
                                 for k in ("mean", "std", "weight"))
            z = (x[:, None] - mean) / std
            log_post = weight.log() - std.log() - 0.5 * z**2
            # only modes that can represent x (|alpha| < ALPHA_CLIP), unless none can (an outlier)
            fits = z.abs() < 4 * ALPHA_CLIP
            log_post = torch.where(fits | ~fits.any(dim=1, keepdim=True), log_post, -torch.inf)
            mode = torch.multinomial(torch.softmax(log_post, dim=1).cpu(), 1, generator=generator).squeeze(1)
            mode = mode.to(x.device)
            alpha = ((x - mean[mode]) / (4 * std[mode])).clamp(-ALPHA_CLIP, ALPHA_CLIP)
            parts += [alpha[:, None], torch.nn.functional.one_hot(mode, len(mean)).double()]
        return torch.cat(parts, dim=1).float()

    def squash(self, out: torch.Tensor) -> torch.Tensor:
        """A network's raw output with tanh applied to each numeric alpha (one-hot spans stay logits)."""
        import torch

        alphas = [s.start for s in self.spans if s.activation == "tanh"]
        out = out.clone()
        out[:, alphas] = torch.tanh(out[:, alphas])
        return out

    def decode(self, encoded: torch.Tensor, sigmas: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Encoded vectors (or raw network outputs: argmax per one-hot) back to rows (B, D), numeric
        values clipped to the range seen in training and rounded for integer columns. ``sigmas``
        (output_dim,): Gaussian noise on each alpha, as TVAE samples."""
        import torch

        encoded = encoded.detach().double().cpu()
        rows = torch.empty(len(encoded), len(self.columns), dtype=torch.float64)
        for span in self.spans:
            block = encoded[:, span.start:span.start + span.width]
            column = self.columns[span.column]
            if span.activation == "tanh":
                alpha = block[:, 0]
                if sigmas is not None:
                    noise = torch.randn(alpha.shape, generator=generator, dtype=torch.float64)
                    alpha = alpha + noise * float(sigmas[span.start])
                rows[:, span.column] = alpha.clamp(-1, 1)
            elif column.kind == "categorical":
                rows[:, span.column] = block.argmax(dim=1).double()
            else:
                modes = self.modes[span.column]
                mode = block.argmax(dim=1)
                mean, std = torch.tensor(modes["mean"], dtype=torch.float64), torch.tensor(modes["std"],
                                                                                          dtype=torch.float64)
                x = rows[:, span.column] * 4 * std[mode] + mean[mode]
                x = x.clamp(modes["low"], modes["high"])
                rows[:, span.column] = x.round() if column.integer else x
        return rows


def _fit_modes(values: np.ndarray, max_modes: int, seed: int) -> dict[str, Any]:
    """The kept modes of a variational GMM on one column: mean, std, weight, and the column's range."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture

    column = values.reshape(-1, 1)
    spread = float(np.std(values)) or 1.0
    n_modes = max(1, min(max_modes, len(np.unique(values))))
    gmm = BayesianGaussianMixture(n_components=n_modes, weight_concentration_prior_type="dirichlet_process",
                                  weight_concentration_prior=0.001, reg_covar=1e-6 * spread**2, n_init=1,
                                  max_iter=100, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm.fit(column)
    keep = gmm.weights_ > MIN_MODE_WEIGHT
    keep[np.argmax(gmm.weights_)] = True
    std = np.sqrt(gmm.covariances_.reshape(-1))[keep]
    weight = gmm.weights_[keep] / gmm.weights_[keep].sum()
    return {"mean": gmm.means_.reshape(-1)[keep].tolist(), "std": np.maximum(std, 1e-6 * spread).tolist(),
            "weight": weight.tolist(), "low": float(values.min()), "high": float(values.max())}
