"""The core training loop (gentoolkit.training.fit, Toolkit.fit) on a third-party model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from gentoolkit import CheckpointError, ConfigError, GentoolkitError, RuntimeOptions, Toolkit

torch.set_num_threads(1)


def _plugin():
    path = Path(__file__).parent / "thirdparty" / "pixel_gaussian.py"
    spec = importlib.util.spec_from_file_location("thirdparty_pixel_gaussian_training", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def kit():
    return Toolkit(plugins=[_plugin()], entrypoints=False)


def data(n: int = 96, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = (0.3 + 0.1 * torch.randn(n, 1, 4, 4, generator=g)).clamp(0, 1)
    return torch.utils.data.TensorDataset(x, torch.zeros(n, dtype=torch.long))


def options(path):
    return RuntimeOptions(device="cpu", seed=0, out=path, progress=False)


def test_toolkit_fit_trains_checkpoints_and_the_checkpoint_loads(kit, tmp_path):
    model = kit.create_model("pixel-gaussian", image_shape=[1, 4, 4])
    history = kit.fit(model, data(), options(tmp_path), epochs=4, batch_size=32)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert history[-1]["loss"] < history[0]["loss"] and all(row["seconds"] > 0 for row in history)
    loaded = kit.load_model(tmp_path / "model.json")
    assert torch.equal(loaded.mean, model.mean) and loaded.model_card.name == "pixel-gaussian"


def test_early_stopping_ends_a_stalled_run_and_names_a_missing_monitor(kit, tmp_path):
    model = kit.create_model("pixel-gaussian", image_shape=[1, 4, 4], lr=0.0)  # lr 0: the loss never improves
    history = kit.fit(model, data(), options(tmp_path / "a"), epochs=50, batch_size=32, monitor="loss", patience=2,
                      min_delta=1e-4)  # batch order alone moves the mean loss by ~1e-7
    assert len(history) == 3  # the first epoch sets the best, two more without improvement stop it
    with pytest.raises(ConfigError, match="'val_loss'.*it logs loss"):
        kit.fit(model, data(), options(tmp_path / "b"), epochs=5, batch_size=32, monitor="val_loss", patience=1)


def test_validation_step_adds_val_means(kit, tmp_path):
    model = kit.create_model("pixel-gaussian", image_shape=[1, 4, 4])
    model.validation_step = lambda batch, runtime: {"nll": -model.log_prob(batch[0]).mean().item()}
    history = kit.fit(model, data(), options(tmp_path), epochs=2, batch_size=32, val_dataset=data(32, seed=1))
    assert "val_nll" in history[0] and history[1]["val_nll"] < history[0]["val_nll"]


def test_a_checkpoint_of_another_model_is_refused(kit, tmp_path):
    kit.fit(kit.create_model("pixel-gaussian", image_shape=[1, 4, 4]), data(), options(tmp_path), epochs=1, batch_size=32)
    other = kit.create_model("pixel-gaussian", image_shape=[1, 4, 4], lr=0.01)
    with pytest.raises(CheckpointError, match="made for another model"):
        kit.fit(other, data(), options(tmp_path), epochs=2, batch_size=32)


def test_untrainable_models_and_bad_settings_are_refused(kit, tmp_path):
    with pytest.raises(GentoolkitError, match="training_step"):
        kit.fit(torch.nn.Linear(2, 2), data(), options(tmp_path), epochs=1, batch_size=8)
    model = kit.create_model("pixel-gaussian", image_shape=[1, 4, 4])
    with pytest.raises(ConfigError, match="batch_size"):
        kit.fit(model, data(), options(tmp_path), epochs=1, batch_size=0)
    with pytest.raises(ConfigError, match="empty"):
        kit.fit(model, data(0), options(tmp_path), epochs=1, batch_size=8)


def test_each_epoch_is_tracked_to_tensorboard(kit, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = kit.create_model("pixel-gaussian", image_shape=[1, 4, 4])
    model.validation_step = lambda batch, runtime: {"nll": -model.log_prob(batch[0]).mean().item()}
    history = kit.fit(model, data(), options(tmp_path), epochs=3, batch_size=32, val_dataset=data(32, seed=1))
    events = EventAccumulator(str(tmp_path)).Reload()
    loss = [(e.step, e.value) for e in events.Scalars("train/loss")]
    assert loss == [(row["epoch"], pytest.approx(row["loss"])) for row in history]
    assert [e.step for e in events.Scalars("val/nll")] == [1, 2, 3]


def test_fit_calls_a_models_setup_with_the_dataset_before_building_optimizers(kit, tmp_path):
    """Lightning-style setup: a model whose layers depend on the data builds them there."""
    model = kit.create_model("pixel-gaussian", image_shape=[1, 4, 4])
    seen, build = [], model.configure_optimizers
    model.setup = lambda dataset: seen.append(len(dataset))
    model.configure_optimizers = lambda: (seen.append("optimizers"), build())[1]
    kit.fit(model, data(64), options(tmp_path), epochs=1, batch_size=32)
    assert seen == [64, "optimizers"]
