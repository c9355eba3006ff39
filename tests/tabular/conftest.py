"""Shared fixtures: a toolkit with only the tabular plugin, a small mixed CSV, tiny trained models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

TINY = {"tabular-tvae": {"embedding_dim": 8, "compress_dims": [32], "decompress_dims": [32]},
        "tabular-ctgan": {"embedding_dim": 8, "generator_dim": [32], "discriminator_dim": [32], "pac": 2,
                          "generator_lr": 1e-3, "discriminator_lr": 1e-3}}


@pytest.fixture(scope="session")
def kit():
    import gentoolkit_tabular
    from gentoolkit import Toolkit

    return Toolkit(plugins=[gentoolkit_tabular], entrypoints=False)


def write_mixed_csv(path, n=160, seed=0):
    """A bimodal numeric column x, a numeric y and an integer count shifted by the label, and a
    categorical colour (blue, green, red) whose shares depend on the label (no / yes)."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    x = np.where(rng.random(n) < 0.5, -3.0, 3.0) + rng.normal(0, 0.5, n)
    y = rng.normal(0, 1, n) + 3 * label
    count = rng.poisson(2 + 5 * label)
    colour = np.where(label == 1, rng.choice(["red", "green"], n, p=[0.8, 0.2]),
                      rng.choice(["red", "green", "blue"], n, p=[0.1, 0.3, 0.6]))
    lines = ["x,y,count,colour,label"] + [f"{a:.4f},{b:.4f},{c},{s},{'yes' if t else 'no'}"
                                          for a, b, c, s, t in zip(x, y, count, colour, label)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def mixed(kit, tmp_path_factory):
    path = write_mixed_csv(tmp_path_factory.mktemp("csv") / "mixed.csv")
    return kit.load_dataset("csv", path=str(path), label="label")


@pytest.fixture(scope="session")
def trained(kit, mixed, tmp_path_factory):
    """Each tiny model trained on the mixed table through the core loop; name -> (model, checkpoint)."""
    from gentoolkit import RuntimeOptions

    models = {}
    for name, params in TINY.items():
        out = tmp_path_factory.mktemp(name)
        torch.manual_seed(0)
        model = kit.create_model(name, **params)
        kit.fit(model, mixed, RuntimeOptions(out=out, progress=False, threads=1), epochs=100, batch_size=32)
        models[name] = (model, out / "model.json")
    return models
