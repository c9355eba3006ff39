"""``gentoolkit run augmentation`` end to end on a tiny config, and its refusals of bad input."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from gentoolkit import ConfigError, GentoolkitError, Toolkit, UnknownNameError
from gentoolkit.runtime import RuntimeOptions
from gentoolkit_augmentation.report import (CAS, CEILING, CLASSICAL, CLASSICAL_FILTERED, FILTERED, FONTS, GENERATED,
                                            METHODS, REAL)

THIRDPARTY = Path(__file__).resolve().parents[1] / "core" / "thirdparty" / "pixel_gaussian.py"


@pytest.fixture
def run(tiny):
    def run(kit, out, **overrides):
        options = RuntimeOptions(device="cpu", seed=0, out=out, progress=False, threads=1)
        return kit.run("augmentation", overrides={**tiny, **overrides}, options=options)

    return run


def test_run_writes_the_table_samples_ratio_plot_and_index(kit, tmp_path, run):
    result = run(kit, tmp_path / "run")
    experiment = result.outputs["experiments"][3]
    assert experiment.methods() == [*METHODS, CLASSICAL_FILTERED] and experiment.seeds == [0, 1, 2, 3, 4]
    for method in METHODS:
        assert all(0 <= s <= 1 for s in experiment.scores[method])
    assert len(set(experiment.scores[REAL])) > 1  # each seed draws its own budget
    assert len(set(experiment.scores[CEILING])) == 1 and experiment.mean_sd(CEILING)[0] > 0.9
    assert experiment.mean_sd(CEILING)[0] > experiment.mean_sd(REAL)[0]
    metrics = json.loads((result.out_dir / "metrics.json").read_text())
    assert metrics["3pc/real_only"] == pytest.approx(experiment.mean_sd(REAL)[0])
    assert {"3pc/generated_filtered_sd", "3pc/generated_only_cas", "cpu_seconds"} <= set(metrics)
    assert metrics["experiments"][0]["methods"][FILTERED]["gains"][CLASSICAL].keys() == {"difference", "sd",
                                                                                         "significant"}
    assert sorted(p.name for p in (result.out_dir / "samples").glob("*.png")) == [f"3pc_class_{c}.png"
                                                                                  for c in range(10)]
    html = (result.out_dir / "index.html").read_text()
    assert "ratio.png" in html and "3pc_class_7.png" in html and f"{experiment.mean_sd(REAL)[0]:.3f}" in html
    assert (result.out_dir / "ratio.png").stat().st_size > 1000
    assert len(list((result.out_dir / "generators").glob("*.safetensors"))) == 5  # one generator per seed


def test_a_generator_that_is_not_class_conditional_is_refused(tmp_path, run):
    import gentoolkit_augmentation
    import gentoolkit_image

    spec = importlib.util.spec_from_file_location("thirdparty_pixel_gaussian_augmentation", THIRDPARTY)
    pixel_gaussian = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pixel_gaussian)
    kit = Toolkit(plugins=[gentoolkit_augmentation, gentoolkit_image, pixel_gaussian], entrypoints=False)
    with pytest.raises(GentoolkitError, match="'pixel-gaussian' is not class-conditional"):
        run(kit, tmp_path / "run", **{"generator.model": "pixel-gaussian", "generator.params": {}})
    assert kit.names_of("models", "image", ["sample"])  # the refusal names the query to pick another


def test_unknown_names_and_bad_numbers_are_refused_before_work(kit, tmp_path, run):
    with pytest.raises(UnknownNameError, match="Did you mean 'image-vae'"):
        run(kit, tmp_path / "a", **{"generator.model": "image-vea"})
    with pytest.raises(UnknownNameError, match="Did you mean 'digits'"):
        run(kit, tmp_path / "b", dataset="digit")
    with pytest.raises(ConfigError, match="ratio"):
        run(kit, tmp_path / "c", ratio=0.0)
    with pytest.raises(GentoolkitError, match="at least 5 seeds"):
        run(kit, tmp_path / "d", seeds=[0, 1])
    with pytest.raises(GentoolkitError, match="at least 2 real items per class"):
        run(kit, tmp_path / "e", per_class=[1])
    with pytest.raises(GentoolkitError, match="give one of real, real\\+classical"):
        run(kit, tmp_path / "f", **{"generator.train_on": "classical"})
    from gentoolkit_augmentation.experiment import Split, pretrain
    from gentoolkit_augmentation.images import DEFAULTS

    letters = Split(np.zeros((4, 1, 16, 16)), np.arange(4), np.zeros((4, 1, 16, 16)), np.arange(4), list("abcd"))
    with pytest.raises(GentoolkitError, match="font renders are 8x8 digits"):
        pretrain(None, {**DEFAULTS, "fonts": {**DEFAULTS["fonts"], "per_class": 2}}, letters, 2)


def test_the_filter_drops_samples_the_real_data_classifier_rejects(kit):
    from gentoolkit_augmentation.experiment import classifier, filter_mask

    data = kit.load_dataset("digits", split="train")
    x, y = data.images.numpy(), data.labels.numpy()
    real = np.concatenate([np.flatnonzero(y == c)[:20] for c in (0, 1)])
    config = {"classifier": {"C": 1.0, "max_iter": 2000}, "filter": {"confidence": 0.9, "knn": 0}}
    model = classifier(config).fit(x[real].reshape(len(real), -1), y[real])
    ones = np.flatnonzero(y == 1)[20:30]
    fake = x[ones]  # real images of 1s, claimed as 0s and as 1s
    assert not filter_mask(config, model, x[real], y[real], fake, np.zeros(10, int)).any()
    proba = model.predict_proba(fake.reshape(10, -1))[:, 1]
    kept = filter_mask(config, model, x[real], y[real], fake, np.ones(10, int))
    assert kept.tolist() == (proba >= 0.9).tolist() and 0 < kept.sum() < 10  # exactly the unsure ones dropped
    noise = np.random.default_rng(0).random((10, *x.shape[1:])).astype(np.float32)  # far from every real 1
    manifold = {**config, "filter": {"confidence": 0.0, "knn": 3}}
    assert not filter_mask(manifold, model, x[real], y[real], noise, np.ones(10, int)).any()
    assert filter_mask(manifold, model, x[real], y[real], x[real], y[real]).all()


def test_font_renders_look_like_optdigits_and_pretrain_the_generator(kit, tmp_path, run):
    from sklearn.linear_model import LogisticRegression

    from gentoolkit_augmentation.fonts import render_digits

    x, y = render_digits(20, seed=0)
    assert x.shape == (200, 1, 8, 8) and np.bincount(y).tolist() == [20] * 10
    assert set(np.unique(x * 16)) <= set(range(17))  # 4x4 block counts of a 32x32 bitmap, as optdigits
    from sklearn.datasets import load_digits

    digits = load_digits()
    model = LogisticRegression(max_iter=2000).fit(x.reshape(200, -1), y)
    assert model.score(digits.images.reshape(-1, 64) / 16, digits.target) > 0.4  # fonts alone: far above chance

    result = run(kit, tmp_path / "run", **{"fonts.per_class": 3, "fonts.epochs": 1, "generator.train_on":
                                           "real+classical"})
    experiment = result.outputs["experiments"][3]
    assert len(experiment.scores[FONTS]) == 5 and FONTS in experiment.methods()
    assert (tmp_path / "run" / "generators" / "image-vae-fonts-3pc.json").exists()  # pretrained once per budget


def test_the_unlabelled_pool_option_adds_its_generator_and_semi_supervised_peers(kit, tmp_path, run):
    from gentoolkit_augmentation.report import (POOL_CLASSICAL_FILTERED, POOL_FILTERED, POOL_GENERATED,
                                                POOL_SELF_TRAINING_FILTERED, POOL_SPREADING_FILTERED, SELF_TRAINING,
                                                SPREADING)

    pool_rows = [POOL_GENERATED, POOL_FILTERED, POOL_CLASSICAL_FILTERED, SELF_TRAINING, SPREADING,
                 POOL_SELF_TRAINING_FILTERED, POOL_SPREADING_FILTERED]
    result = run(kit, tmp_path / "run", **{"unlabelled.use": True, "unlabelled.epochs": 2,
                                           "unlabelled.params": {"width": 8, "latent_dim": 4},
                                           "evaluate_on": "validation", "test_size": 0.8, "classifier.max_iter": 100})
    experiment = result.outputs["experiments"][3]
    assert experiment.methods() == [*METHODS, CLASSICAL_FILTERED, *pool_rows]  # every existing row kept
    assert 0 <= result.metrics["3pc/pool_kept_share"] <= 1  # a 2-epoch autoencoder: the filter may keep none
    assert len(list((tmp_path / "run" / "generators").glob("pool-image-vae*.safetensors"))) == 1  # once per run
    from PIL import Image

    grid = Image.open(tmp_path / "run" / "samples" / "3pc_class_0.png").size
    plain = run(kit, tmp_path / "plain", **{"seeds": [0, 1, 2, 3, 4], "classifier.max_iter": 100})
    assert grid[1] > Image.open(plain.out_dir / "samples" / "3pc_class_0.png").size[1]  # + the pool's two rows
    assert experiment.mean_sd(CEILING)[0] > 0.85 and "179 pool items" in experiment.notes[CEILING]  # half the pool
    # label spreading labels the 179 - 30 unlabelled digits far better than chance, so it beats real only
    assert experiment.mean_sd(SPREADING)[0] > experiment.mean_sd(REAL)[0] + 0.015
    with pytest.raises(GentoolkitError, match="'image-gan' cannot encode and decode"):
        run(kit, tmp_path / "gan", **{"unlabelled.use": True, "unlabelled.model": "image-gan",
                                      "unlabelled.epochs": 0, "unlabelled.params": {}})
    with pytest.raises(GentoolkitError, match="give one of test, validation"):
        run(kit, tmp_path / "bad", evaluate_on="train")
    with pytest.raises(GentoolkitError, match="unlabelled.filter='knn': give one of pool, budget"):
        run(kit, tmp_path / "bad", **{"unlabelled.filter": "knn"})


def test_pool_variations_stay_near_their_image_and_move_towards_its_latent_neighbours(kit, tmp_path):
    import torch

    from gentoolkit.runtime import Runtime
    from gentoolkit_augmentation import unlabelled
    from gentoolkit_augmentation.images import DEFAULTS

    x = kit.load_dataset("digits", split="train").images.numpy()[:200]
    config = {**DEFAULTS, "unlabelled": {**DEFAULTS["unlabelled"], "epochs": 5, "params": {"width": 8}}}
    with Runtime(RuntimeOptions(device="cpu", seed=0, out=tmp_path, progress=False), task="t", toolkit=kit) as rt:
        pool = unlabelled.prepare(rt, config, x)
    y = np.arange(4)
    spec = {**config["unlabelled"], "variation": "neighbours", "k": 3, "step": 0.0}
    fake, fake_y = unlabelled.variations(pool, x[:4], y, spec, seed=0)
    assert fake.shape == (12, 1, 8, 8) and fake_y.tolist() == [0, 1, 2, 3] * 3
    reconstruction = pool.model.reconstruct(torch.as_tensor(x[:4])).numpy()
    np.testing.assert_allclose(fake, np.tile(reconstruction, (3, 1, 1, 1)), atol=1e-5)  # step 0: the image itself
    moved, _ = unlabelled.variations(pool, x[:4], y, {**spec, "step": 1.0}, seed=0)
    codes = pool.model.encode(torch.as_tensor(moved)).flatten(1)
    own = pool.codes[:4].flatten(1).repeat(3, 1)
    assert (moved != fake).any() and (codes - own).norm(dim=1).mean() > 0
    noisy, _ = unlabelled.variations(pool, x[:4], y, {**spec, "variation": "noise", "noise": 0.5}, seed=0)
    assert not np.allclose(noisy, fake) and np.abs(noisy - fake).mean() < np.abs(fake - fake[::-1]).mean() + 0.5


def test_the_class_mixture_learns_each_class_from_the_unlabelled_pool_not_only_its_labelled_codes():
    import torch

    from gentoolkit_augmentation.unlabelled import class_mixture

    rng = np.random.default_rng(0)
    true_means = np.array([[0.0, 0.0], [6.0, 0.0]])
    true_cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    pool = np.concatenate([rng.multivariate_normal(m, true_cov, 400) for m in true_means])
    labelled = np.array([[1.5, 1.5], [1.0, 0.5], [4.5, -1.5], [5.0, -1.0]])  # two per class, off-centre
    y = np.array([0, 0, 1, 1])
    means, covariances = class_mixture(torch.as_tensor(labelled), y, torch.as_tensor(pool), 30, 0.01)
    # the labelled codes alone put the means 1.0 and 1.3 away; the pool pulls them to the truth
    assert np.linalg.norm(means.numpy() - true_means, axis=1).max() < 0.15
    np.testing.assert_allclose(covariances.numpy(), np.stack([true_cov] * 2), atol=0.15)
    unmoved, _ = class_mixture(torch.as_tensor(labelled), y, torch.as_tensor(pool), 0, 0.01)
    np.testing.assert_allclose(unmoved.numpy(), [[1.25, 1.0], [4.75, -1.25]])  # no EM step: the labelled means


def test_mixture_variations_are_drawn_per_class_and_the_pool_filter_uses_every_real_image(kit, tmp_path):
    from gentoolkit.runtime import Runtime
    from gentoolkit_augmentation import unlabelled
    from gentoolkit_augmentation.images import DEFAULTS

    digits = kit.load_dataset("digits", split="train")
    x, labels = digits.images.numpy()[:300], digits.labels.numpy()[:300]
    config = {**DEFAULTS, "unlabelled": {**DEFAULTS["unlabelled"], "epochs": 40, "params": {"width": 8}}}
    with Runtime(RuntimeOptions(device="cpu", seed=0, out=tmp_path, progress=False), task="t", toolkit=kit) as rt:
        pool = unlabelled.prepare(rt, config, x)
    budget = np.concatenate([np.flatnonzero(labels == c)[:3] for c in range(10)])
    spec = {**config["unlabelled"], "variation": "mixture", "k": 4}
    fake, fake_y = unlabelled.variations(pool, x[budget], labels[budget], spec, seed=0)
    assert fake.shape == (120, 1, 8, 8) and fake_y.tolist() == labels[budget].tolist() * 4
    again, _ = unlabelled.variations(pool, x[budget], labels[budget], spec, seed=0)
    np.testing.assert_array_equal(fake, again)  # seeded
    # a classifier that knows every pool label reads most samples as the class they were drawn for
    from sklearn.linear_model import LogisticRegression

    judge = LogisticRegression(max_iter=2000).fit(x.reshape(len(x), -1), labels)
    agree = (judge.predict(fake.reshape(len(fake), -1)) == fake_y).mean()
    assert agree > 0.7
    on_pool = unlabelled.pool_filter(config, pool, None, x[budget], labels[budget], x[:50], labels[:50])
    assert on_pool.all()  # pool images lie inside the pool's own manifold; the budget's filter is not asked
    noise = np.random.default_rng(0).random((20, 1, 8, 8)).astype(np.float32)
    assert not unlabelled.pool_filter(config, pool, None, x[budget], labels[budget], noise, labels[:20]).any()
