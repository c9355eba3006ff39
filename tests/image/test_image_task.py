"""The image task end to end with tiny settings, resuming, generating, and refused checkpoints."""

import json

import pytest
import torch

from gentoolkit.api import Toolkit
from gentoolkit.errors import CheckpointError, ConfigError
from gentoolkit.runtime import RuntimeOptions

TINY = {"train.epochs": 2, "train.batch_size": 128, "sample.n": 20, "evaluate.n_samples": 100,
        "evaluate.kid_subsets": 5, "params": {"latent_dim": 4, "width": 8}}


@pytest.fixture(scope="module")
def kit():
    torch.set_num_threads(1)
    return Toolkit()


def _options(path):
    return RuntimeOptions(device="cpu", seed=0, out=path, progress=False)


def test_full_run_writes_everything(kit, tmp_path):
    result = kit.run("image", overrides=TINY, options=_options(tmp_path))
    for name in ("samples.png", "learning_curve.png", "metrics.json", "model.json", "model.safetensors"):
        assert (tmp_path / name).is_file(), name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["features"] == "digits-cnn" and metrics["num_samples"] == 100
    assert metrics["fid"] > metrics["fid_real_floor"] > 0
    for key in ("kid", "inception_score", "precision", "recall", "coverage", "parzen_ll", "seconds_per_epoch"):
        assert isinstance(metrics[key], float), key
    assert metrics["model"]["name"] == "image-vae" and metrics["model"]["plugin"] == "image"
    assert metrics["likelihood"] == "bound" and "bits_per_dim" not in metrics  # a Bernoulli ELBO, not discrete
    assert result.metrics["fid"] == metrics["fid"]
    assert [row["epoch"] for row in result.outputs["history"]] == [1, 2]


def test_resume_continues_and_other_model_refused(kit, tmp_path):
    kit.run("image", overrides={**TINY, "mode": "train"}, options=_options(tmp_path))
    result = kit.run("image", overrides={**TINY, "mode": "train", "train.epochs": 3}, options=_options(tmp_path))
    assert [row["epoch"] for row in result.outputs["history"]] == [1, 2, 3]  # epochs 1-2 came from the checkpoint
    with pytest.raises(CheckpointError, match="made for another model.*image-gan"):
        kit.run("image", overrides={**TINY, "mode": "train", "model": "image-gan"}, options=_options(tmp_path))


@pytest.mark.parametrize("model, params", [
    ("image-vae", {"latent_dim": 4, "width": 8}),
    ("image-gan", {"latent_dim": 4, "width": 8, "loss": "wgan-gp", "n_critic": 3}),  # n_critic's phase resumes
])
def test_resume_is_exact(kit, tmp_path, model, params):
    """A run stopped after epoch 2 and resumed to 3 ends with exactly the weights of a run that
    never stopped: same data order, same noise, same GAN critic/generator phase."""
    base = {**TINY, "mode": "train", "model": model, "params": params, "train.batch_size": 200,
            "train.checkpoint_every": 1}
    whole = kit.run("image", overrides={**base, "train.epochs": 3}, options=_options(tmp_path / "whole"))
    kit.run("image", overrides={**base, "train.epochs": 2}, options=_options(tmp_path / "split"))
    resumed = kit.run("image", overrides={**base, "train.epochs": 3}, options=_options(tmp_path / "split"))
    a, b = whole.outputs["model"].state_dict(), resumed.outputs["model"].state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.outputs["history"][-1]["epoch"] == 3


def test_generate_and_evaluate_from_checkpoint(kit, tmp_path):
    kit.run("image", overrides={**TINY, "mode": "train", "conditional": True}, options=_options(tmp_path / "a"))
    checkpoint = str(tmp_path / "a" / "model.json")
    result = kit.run("image", overrides={"mode": "generate", "checkpoint": checkpoint, "sample.n": 10},
                     options=_options(tmp_path / "b"))
    assert result.outputs["samples"].shape == (10, 1, 8, 8) and (tmp_path / "b" / "samples.png").is_file()
    loaded = kit.load_model(checkpoint)
    assert loaded.item_spec.classes == tuple(str(d) for d in range(10))  # class names kept with the model
    with pytest.raises(ConfigError, match=r"image shape \(1, 8, 8\).*\(1, 16, 16\)"):
        kit.run("image", overrides={**TINY, "mode": "evaluate", "checkpoint": checkpoint, "data.size": 16},
                options=_options(tmp_path / "c"))


def test_checkpoint_mismatch_errors(kit, tmp_path):
    vae = kit.create_model("image-vae", image_shape=[1, 8, 8], latent_dim=4, width=8)
    kit.save_model(vae, tmp_path / "vae")
    assert torch.equal(kit.load_model(tmp_path / "vae").decoder.net[-1].weight, vae.decoder.net[-1].weight)
    meta = json.loads((tmp_path / "vae.json").read_text())  # weights that do not fit the stated config
    meta["metadata"]["gentoolkit_model"]["params"]["latent_dim"] = 6
    (tmp_path / "vae.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not fit the model its card describes"):
        kit.load_model(tmp_path / "vae")


def test_bad_config_is_refused(kit, tmp_path):
    with pytest.raises(ConfigError, match="mode"):
        kit.run("image", overrides={"mode": "sample"}, options=_options(tmp_path))
    with pytest.raises(ConfigError, match="checkpoint"):
        kit.run("image", overrides={"mode": "generate"}, options=_options(tmp_path))


def test_cyclegan_mode_draws_translation_and_scores_it(kit, tmp_path):
    overrides = {"model": "image-cyclegan", "train.epochs": 1, "train.batch_size": 128,
                 "params": {"channels": 4, "num_res_blocks": 1, "disc_channels": 4}}
    result = kit.run("image", overrides=overrides, options=_options(tmp_path))
    assert (tmp_path / "translation.png").is_file() and (tmp_path / "model.json").is_file()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["identity_baseline_mae"] > 0.5  # an inverted digit differs from the digit everywhere
    assert 0 <= result.metrics["a2b_mae"] <= 1 and 0 <= metrics["b2a_class_accuracy"] <= 1
    with pytest.raises(ConfigError, match="translates"):
        kit.run("image", overrides={"model": "image-cyclegan", "mode": "generate"}, options=_options(tmp_path / "g"))


def test_contributions_through_the_toolkit(kit):
    assert {"image-vae", "image-gan", "image-ddpm", "image-pixelcnn"} <= set(kit.models.names())
    test = kit.load_dataset("digits", split="test")
    assert len(test) == 360
    model = kit.create_model("image-vae", image_shape=(1, 8, 8), latent_dim=4, width=8)
    assert model.family == "vae" and model.model_card.params["latent_dim"] == 4
    fid = kit.evaluate("image-fid", test.images[:180], reference=test.images[180:])
    assert fid["features"] == "digits-cnn" and 0 < fid["fid"] < 2
    coverage = kit.evaluate("image-class-coverage", test.images[test.labels == 7])
    assert coverage["coverage"] <= 0.2 and coverage["max_class_share"] > 0.9
