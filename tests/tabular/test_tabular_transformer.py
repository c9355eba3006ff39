"""CTGAN's mode-specific normalisation: fitted modes, the round trip, JSON."""

from __future__ import annotations

import json

import numpy as np
import torch

from gentoolkit_tabular.transformer import ALPHA_CLIP, DataTransformer


def test_round_trip_gives_the_rows_back(mixed):
    transformer = DataTransformer.fit(mixed)
    rows = torch.as_tensor(mixed.features)
    encoded = transformer.encode(rows, generator=torch.Generator().manual_seed(0))
    assert encoded.shape == (len(mixed), transformer.output_dim)
    back = transformer.decode(encoded)
    np.testing.assert_allclose(back[:, :2].numpy(), mixed.features[:, :2], atol=1e-4)  # float32 alphas
    np.testing.assert_array_equal(back[:, 2:].numpy(), mixed.features[:, 2:])  # integers and category codes


def test_a_bimodal_column_gets_two_modes_and_alphas_stay_in_range(mixed):
    transformer = DataTransformer.fit(mixed)
    modes = transformer.modes[0]
    assert len(modes["mean"]) >= 2 and min(modes["mean"]) < -1 < 2 < max(modes["mean"])
    encoded = transformer.encode(torch.as_tensor(mixed.features))
    assert encoded[:, 0].abs().max() <= ALPHA_CLIP + 1e-6
    one_hot = encoded[:, 1:1 + len(modes["mean"])]
    assert torch.all(one_hot.sum(dim=1) == 1)


def test_outliers_beyond_every_mode_are_clipped_to_the_training_range(kit):
    table = kit.load_dataset("wine", split="all")
    transformer = DataTransformer.fit(table)
    rows = torch.as_tensor(table.features)
    back = transformer.decode(transformer.encode(rows)).numpy()
    exact = np.isclose(back, table.features, rtol=1e-5, atol=1e-6)
    assert exact.mean() > 0.99
    assert np.all(back >= table.features.min(axis=0)) and np.all(back <= table.features.max(axis=0))


def test_json_round_trip_encodes_identically(mixed):
    transformer = DataTransformer.fit(mixed)
    again = DataTransformer.from_json(json.loads(json.dumps(transformer.to_json())))
    rows = torch.as_tensor(mixed.features)
    a = transformer.encode(rows, generator=torch.Generator().manual_seed(1))
    b = again.encode(rows, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and again.classes == mixed.classes
