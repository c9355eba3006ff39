"""TVAE and CTGAN through the registry: conditional sampling, legal values, save and load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gentoolkit import GentoolkitError, Sampler, Trainable

from .conftest import TINY

MODELS = list(TINY)


@pytest.mark.parametrize("name", MODELS)
def test_conditional_sampling_gives_the_requested_labels(trained, mixed, name):
    model, _ = trained[name]
    assert isinstance(model, Sampler) and isinstance(model, Trainable)
    assert model.item_spec.kind == "tabular" and model.item_spec.classes == ("no", "yes")
    labels = torch.tensor([0, 1] * 50)
    table = model.sample_table(100, condition=labels, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(table.labels, labels.numpy())
    rows = model.sample(7, condition=1)
    assert rows.shape == (7, 4) and rows.dtype == torch.float32
    with pytest.raises(GentoolkitError, match="0..1"):
        model.sample(3, condition=2)


@pytest.mark.parametrize("name", MODELS)
def test_generated_values_are_legal(trained, mixed, name):
    model, _ = trained[name]
    rows = model.sample(500, generator=torch.Generator().manual_seed(1)).double().numpy()
    assert set(np.unique(rows[:, 3])) <= {0.0, 1.0, 2.0}  # colour codes of blue, green, red
    assert np.all(rows[:, 2] == np.round(rows[:, 2]))  # an integer column stays whole
    low, high = mixed.features.min(axis=0), mixed.features.max(axis=0)
    assert np.all(rows[:, :3] >= low[:3] - 1e-4) and np.all(rows[:, :3] <= high[:3] + 1e-4)
    assert set(model.sample_table(50).frame()["colour"]) <= {"blue", "green", "red"}


@pytest.mark.parametrize("name", MODELS)
def test_the_model_learns_class_conditional_structure(trained, mixed, name):
    """Label 'yes' shifts y by +3 and is mostly red: the samples of each class must show it."""
    model, _ = trained[name]
    gen = torch.Generator().manual_seed(2)
    no, yes = (model.sample(400, condition=c, generator=gen).double().numpy() for c in (0, 1))
    assert yes[:, 1].mean() - no[:, 1].mean() > 1.5
    assert (yes[:, 3] == 2).mean() > (no[:, 3] == 2).mean() + 0.2  # red (code 2) is more common for 'yes'


@pytest.mark.parametrize("name", MODELS)
def test_save_then_load_gives_the_same_samples(kit, trained, tmp_path, name):
    model, checkpoint = trained[name]
    loaded = kit.load_model(checkpoint)
    saved = kit.load_model(kit.save_model(model, tmp_path / "again"))
    for other in (loaded, saved):
        a = model.sample(20, condition=1, generator=torch.Generator().manual_seed(5))
        b = other.sample(20, condition=1, generator=torch.Generator().manual_seed(5))
        assert torch.equal(a, b)
    assert loaded.model_card.item_spec.classes == ("no", "yes")
    assert "transformer" in loaded.model_card.params  # plain JSON in the card, no pickle


def test_an_untrained_model_says_so(kit):
    with pytest.raises(GentoolkitError, match="has not been trained"):
        kit.create_model("tabular-tvae").sample(3)


def test_trains_on_any_dataset_of_feature_label_pairs(kit, tmp_path):
    """What a consumer such as the augmentation plugin may hand over: (x, y) items, no column metadata."""
    from torch.utils.data import TensorDataset

    from gentoolkit import RuntimeOptions

    x = torch.cat([torch.randn(60, 2), torch.randn(60, 2) + 4])
    y = torch.cat([torch.zeros(60), torch.ones(60)]).long()
    model = kit.create_model("tabular-tvae", classes=["low", "high"], **TINY["tabular-tvae"])
    assert model.item_spec.classes == ("low", "high")  # class-conditional before training, for a consumer's check
    kit.fit(model, TensorDataset(x, y), RuntimeOptions(out=tmp_path, progress=False, threads=1), epochs=100,
            batch_size=32)
    assert model.item_spec.shape == (2,) and model.item_spec.classes == ("low", "high")
    assert kit.load_model(tmp_path / "model.json").item_spec.classes == ("low", "high")
    low, high = (model.sample(200, condition=c, generator=torch.Generator().manual_seed(0)) for c in (0, 1))
    assert high.mean() - low.mean() > 2.5  # the classes' means differ by 4


def test_a_model_created_with_classes_refuses_a_table_with_others(kit, mixed, tmp_path):
    from gentoolkit import RuntimeOptions

    model = kit.create_model("tabular-ctgan", classes=["yes", "no"], **TINY["tabular-ctgan"])
    with pytest.raises(GentoolkitError, match=r"created with classes \['yes', 'no'\].*\['no', 'yes'\]"):
        kit.fit(model, mixed, RuntimeOptions(out=tmp_path, progress=False), epochs=1, batch_size=32)


def test_a_model_refuses_a_table_with_other_columns(kit, trained, tmp_path):
    from gentoolkit import RuntimeOptions

    model, _ = trained["tabular-tvae"]
    wine = kit.load_dataset("wine", split="train")
    with pytest.raises(GentoolkitError, match="fitted on columns"):
        kit.fit(model, wine, RuntimeOptions(out=tmp_path, progress=False), epochs=1, batch_size=8)


@pytest.mark.parametrize("name", MODELS)
def test_an_interrupted_run_resumes_exactly(kit, mixed, tmp_path, name):
    """The transformer fitted in setup is part of the card, so the resumed run matches the checkpoint."""
    from gentoolkit import RuntimeOptions

    def train(out, epochs):
        torch.manual_seed(0)
        model = kit.create_model(name, **TINY[name])
        history = kit.fit(model, mixed, RuntimeOptions(out=out, progress=False, threads=1), epochs=epochs,
                          batch_size=32)
        return model, history

    train(tmp_path / "a", 2)
    resumed, history = train(tmp_path / "a", 3)
    straight, _ = train(tmp_path / "b", 3)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    a = resumed.sample(20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, straight.sample(20, generator=torch.Generator().manual_seed(0)))
