"""Fidelity and efficacy on real-vs-real against noise, and the imbalance helpers."""

from __future__ import annotations

import numpy as np
import pytest

from gentoolkit import GentoolkitError
from gentoolkit_tabular import imbalance


@pytest.fixture(scope="module")
def wine(kit):
    return kit.load_dataset("wine", split="train"), kit.load_dataset("wine", split="test")


def noise_like(table, seed=0):
    """Rows drawn uniformly within each column's range, labels at random: no structure at all."""
    rng = np.random.default_rng(seed)
    low, high = table.features.min(axis=0), table.features.max(axis=0)
    return table.with_rows(rng.uniform(low, high, table.features.shape), rng.integers(0, len(table.classes), len(table)))


def test_fidelity_is_high_for_real_rows_and_low_for_noise(kit, wine):
    train, test = wine
    real = kit.evaluate("tabular-fidelity", test, real=train)
    noise = kit.evaluate("tabular-fidelity", noise_like(train), real=train)
    same = kit.evaluate("tabular-fidelity", train, real=train)
    assert same["quality"] == pytest.approx(1.0)
    assert real["column_shapes"] > 0.85 and real["pair_trends"] > 0.9
    assert noise["column_shapes"] < real["column_shapes"] - 0.1 and noise["pair_trends"] < real["pair_trends"] - 0.08
    assert noise["worst_column_shape"] < real["worst_column_shape"] - 0.2


def test_column_shapes_use_ks_for_numbers_and_tv_for_categories(mixed):
    from gentoolkit_tabular.metrics import column_shapes

    shifted = mixed.with_rows(mixed.features + np.array([100.0, 0, 0, 0]), mixed.labels)
    scores = column_shapes(shifted, mixed)
    assert scores["x"] == 0.0 and scores["y"] == 1.0 and scores["colour"] == 1.0
    recoloured = mixed.features.copy()
    recoloured[:, 3] = 0  # every row blue
    share_blue = (mixed.features[:, 3] == 0).mean()
    assert column_shapes(mixed.with_rows(recoloured, mixed.labels), mixed)["colour"] == pytest.approx(share_blue)


def test_efficacy_of_real_rows_beats_noise(kit, wine):
    train, test = wine
    real = kit.evaluate("tabular-efficacy", train, test=test, train=train)
    assert real["tstr_roc_auc"] == real["trtr_roc_auc"] > 0.98 and real["relative_roc_auc"] == 1.0
    # rows whose labels are shuffled carry no label information: chance level on average
    # (uniform noise is no good here: wine separates along almost any random direction)
    shuffled = [kit.evaluate("tabular-efficacy", train.with_rows(train.features, np.random.default_rng(s).permutation(
        train.labels)), test=test) for s in range(5)]
    assert np.mean([r["tstr_roc_auc"] for r in shuffled]) < 0.7
    assert np.mean([r["tstr_balanced_accuracy"] for r in shuffled]) < 0.5 < real["tstr_balanced_accuracy"]
    with pytest.raises(GentoolkitError, match="test rows"):
        kit.evaluate("tabular-efficacy", train)
    with pytest.raises(GentoolkitError, match="one class"):
        kit.evaluate("tabular-efficacy", train.subset(np.flatnonzero(train.labels == 0)), test=test)


def test_making_a_class_rare_then_oversampling_with_smote(kit):
    train = kit.load_dataset("breast-cancer", split="train")
    minority = imbalance.minority_index(train, "malignant")
    rare = imbalance.make_rare(train, minority, 0.1, seed=0)
    counts = np.bincount(rare.labels)
    assert counts[minority] == round(0.1 * (train.labels == minority).sum()) and counts[1] == (train.labels == 1).sum()
    assert not np.array_equal(imbalance.make_rare(train, minority, 0.1, seed=1).features, rare.features)
    balanced = imbalance.smote(rare, minority, seed=0)
    assert np.bincount(balanced.labels)[minority] == counts[1]
    np.testing.assert_array_equal(balanced.features[:len(rare)], rare.features)  # the real rows stay
    with pytest.raises(GentoolkitError, match="not a class"):
        imbalance.minority_index(train, "benignant")


def test_oversampling_with_a_generator_fills_the_shortfall_with_its_rows(trained, mixed):
    model, _ = trained["tabular-tvae"]
    rare = imbalance.make_rare(mixed, 1, 0.2, seed=0)
    filled = imbalance.oversample(model, rare, 1, seed=0)
    counts = np.bincount(filled.labels)
    assert counts[0] == counts[1] and len(filled) == len(rare) + imbalance.shortfall(rare, 1)
    np.testing.assert_array_equal(filled.features[:len(rare)], rare.features)


def test_summary_gives_mean_and_sample_sd():
    summary = imbalance.summary({"none": {"balanced_accuracy": [0.5, 0.7], "roc_auc": [0.8, 0.8]}})
    assert summary["none"]["balanced_accuracy_mean"] == pytest.approx(0.6)
    assert summary["none"]["balanced_accuracy_sd"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert summary["none"]["roc_auc_sd"] == 0.0
