"""What every tabular generator shares: the fitted transformer, ``setup`` on the training table,
class-conditional ``sample`` and saving the transformer with the model's card.

The transformer is fitted on the data, so a model is built in two steps, as a Lightning module
builds layers in ``setup``: ``create`` makes an empty model, and ``gentoolkit.training.fit`` calls
``setup(dataset)``, which fits the transformer, builds the networks and writes the fitted
transformer (plain JSON) into the model card's params. Any saved model is therefore rebuilt by
``create(**card.params)`` plus its safetensors weights: nothing is pickled.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from gentoolkit import ConfigError, GentoolkitError, ItemSpec
from gentoolkit.conditioning import labels_for
from gentoolkit.models import card_of
from gentoolkit_tabular.data import Column, Table
from gentoolkit_tabular.transformer import DataTransformer


class TabularGenerator(torch.nn.Module):
    """A class-conditional generator of table rows; subclasses build the networks and decode noise."""

    name = "tabular model"

    def __init__(self, params: Any, transformer: dict[str, Any] | None = None):
        super().__init__()
        self.params = params
        self.transformer = DataTransformer.from_json(transformer) if transformer else None
        self._train_table: Table | None = None
        if self.transformer is not None:
            self.build()

    @property
    def item_spec(self) -> ItemSpec:
        """Before training: the class names given at creation (if any); after: the table's shape and classes."""
        if self.transformer is None:
            return ItemSpec("tabular", classes=tuple(self.params.classes))
        return ItemSpec("tabular", (len(self.transformer.columns),), classes=tuple(self.transformer.classes))

    def build(self) -> None:
        """Make the networks for ``self.transformer`` (subclasses)."""
        raise NotImplementedError

    def setup(self, dataset: Any) -> None:
        """Fit the transformer on ``dataset`` (once) and build the networks; keep the table for training."""
        table = as_table(dataset, list(self.params.classes))
        if self.transformer is None:
            self.transformer = DataTransformer.fit(table, self.params.max_modes, self.params.seed)
            self.build()
            card = card_of(self)
            if card is not None:
                self.model_card = dataclasses.replace(
                    card, params={**card.params, "transformer": self.transformer.to_json()}, item_spec=self.item_spec)
        else:
            try:
                self.transformer.check(table, self.name)
            except ValueError as err:
                raise ConfigError(f"{err} Train a fresh model on this table instead.") from None
        self._train_table = table

    # --- sampling ------------------------------------------------------------------------------

    def sample(self, n: int, *, condition: Any = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` rows (n, D) as the table's features (codes for categorical columns). ``condition``:
        class labels (one int, or (n,)); without, classes are drawn with the training frequencies."""
        return torch.as_tensor(self.sample_table(n, condition=condition, generator=generator).features,
                               dtype=torch.float32)

    def sample_table(self, n: int, condition: Any = None, generator: torch.Generator | None = None) -> Table:
        """``n`` synthetic rows with their labels, as a :class:`Table` (``.frame()`` for a DataFrame)."""
        transformer = self._fitted()
        if condition is None:
            prior = torch.tensor(transformer.class_counts, dtype=torch.float64)
            labels = torch.multinomial(prior, n, replacement=True, generator=generator) if n else torch.zeros(0)
        else:
            labels = labels_for(condition, n, transformer.classes, "cpu", self.name, generator)
        labels = labels.long()
        was_training = self.training
        self.eval()
        with torch.no_grad():
            encoded, sigmas = self.generate(labels, generator)
        self.train(was_training)
        rows = transformer.decode(encoded, sigmas, generator)
        return Table(rows.numpy(), labels.numpy().astype(np.int64), transformer.columns, transformer.classes,
                     transformer.label_name, f"{self.name} samples")

    def generate(self, labels: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, Any]:
        """Encoded rows (n, output_dim) for ``labels`` and the per-dimension noise of numeric values (or None)."""
        raise NotImplementedError

    def _fitted(self) -> DataTransformer:
        if self.transformer is None:
            raise GentoolkitError(f"This {self.name} has not been trained: train it on a table first "
                                  "(gentoolkit.training.fit or Toolkit.fit with a tabular dataset).")
        return self.transformer

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def noise(self, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
        """Standard normal noise on the model's device, drawn on the CPU (so a seed reproduces anywhere)."""
        return torch.randn(shape, generator=generator).to(self.device)


def as_table(dataset: Any, classes: list[str] | None = None) -> Table:
    """``dataset`` as a :class:`Table`: a table itself, a ``Subset`` of one, or any dataset of
    ``(x, label)`` items (its columns then numeric, named x0, x1, ...). ``classes``: the class
    names the model was created with, which a table's must equal."""
    table = _table_of(dataset, classes)
    if classes and table.classes != classes:
        raise ConfigError(f"The model was created with classes {classes}, but the table's are {table.classes}.")
    return table


def _table_of(dataset: Any, classes: list[str] | None) -> Table:
    if isinstance(dataset, Table):
        return dataset
    inner = getattr(dataset, "dataset", None)
    if isinstance(inner, Table) and hasattr(dataset, "indices"):
        return inner.subset(np.asarray(dataset.indices))
    try:
        items = [dataset[i] for i in range(len(dataset))]
        features = np.stack([np.asarray(x, dtype=np.float64).reshape(-1) for x, _ in items])
        labels = np.asarray([int(y) for _, y in items], dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"A tabular model trains on a table (a tabular dataset) or on (features, label) "
                          f"items; got {type(dataset).__name__} ({err}).") from None
    spec = getattr(dataset, "item_spec", None)
    if not classes:
        classes = list(spec.classes) if spec is not None and spec.classes else [str(c) for c in range(labels.max() + 1)]
    if labels.min() < 0 or labels.max() >= len(classes):
        raise ConfigError(f"Labels must be in 0..{len(classes) - 1} for a tabular model; got {labels.min()}..{labels.max()}.")
    columns = [Column(f"x{j}", "numeric") for j in range(features.shape[1])]
    return Table(features, labels, columns, classes)
