"""The report's gain rule and the domain-free pipeline steps (budget, filters, mixing)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from gentoolkit import GentoolkitError
from gentoolkit_augmentation import pipeline
from gentoolkit_augmentation.report import CLASSICAL, FILTERED, REAL, Experiment

SEEDS = [0, 1, 2, 3, 4]


def test_a_gain_needs_the_difference_of_means_to_exceed_the_larger_sd():
    exp = Experiment("toy", "accuracy", SEEDS)
    exp.add(REAL, [0.80, 0.82, 0.84, 0.86, 0.88])  # mean 0.84, sd 0.0316
    exp.add(CLASSICAL, [0.85, 0.85, 0.85, 0.85, 0.85])  # mean 0.85, sd 0
    exp.add(FILTERED, [0.87, 0.875, 0.88, 0.885, 0.89])  # mean 0.88, sd 0.0079
    vs_real, vs_classical = exp.gains(FILTERED)
    assert vs_real.difference == pytest.approx(0.04) and vs_real.sd == pytest.approx(np.std(exp.scores[REAL], ddof=1))
    assert vs_real.significant  # 0.04 > 0.0316: the larger SD (real only's) is the bar
    assert vs_classical.difference == pytest.approx(0.03) and vs_classical.significant  # 0.03 > 0.0079
    assert not exp.gain(CLASSICAL, REAL).significant  # 0.01 < 0.0316
    assert "+0.040" in exp.markdown() and "**+0.040**" in exp.markdown()
    again = Experiment.from_json(exp.to_json())
    assert again.scores == exp.scores and again.to_json()["methods"][FILTERED]["gains"][REAL]["significant"]


def test_every_method_needs_a_score_per_seed_and_five_seeds():
    with pytest.raises(GentoolkitError, match="at least 5"):
        Experiment("toy", "accuracy", [0, 1, 2])
    exp = Experiment("toy", "accuracy", SEEDS)
    with pytest.raises(GentoolkitError, match="same seeds"):
        exp.add(REAL, [0.8, 0.9])


def test_budget_takes_per_class_items_and_refuses_small_classes_and_missing_labels():
    labels = np.array([0] * 10 + [1] * 10 + [2] * 3)
    idx = pipeline.budget(labels, 3, seed=0)
    assert np.bincount(labels[idx]).tolist() == [3, 3, 3]
    assert not np.array_equal(idx, pipeline.budget(labels, 3, seed=1))
    with pytest.raises(GentoolkitError, match="Class '2' has 3"):
        pipeline.budget(labels, 5, seed=0, classes=["a", "b", "2"])
    with pytest.raises(GentoolkitError, match="without a label|no labels"):
        pipeline.budget(np.array([0, 1, -1]), 2, seed=0)
    with pytest.raises(GentoolkitError, match="one item"):
        pipeline.check_labels(np.array([0, 0, 1]), ["cat", "dog"])


def test_confidence_filter_drops_what_the_classifier_rejects():
    proba = np.array([[0.95, 0.05], [0.6, 0.4], [0.2, 0.8], [0.97, 0.03]])
    labels = np.array([0, 0, 1, 1])  # confident, unsure, confident-enough?, confidently the other class
    assert pipeline.confident(proba, labels, tau=0.9).tolist() == [True, False, False, False]
    assert pipeline.confident(proba, labels, tau=0.5).tolist() == [True, True, True, False]


def test_manifold_filter_keeps_samples_near_the_real_items_of_their_class():
    real = np.array([[0.0, 0], [1, 0], [0, 1], [10, 10], [11, 10], [10, 11]])
    real_y = np.array([0, 0, 0, 1, 1, 1])
    fake = np.array([[0.5, 0.5], [10.5, 10.2], [5, 5], [0.2, 0.2]])
    fake_y = np.array([0, 1, 0, 1])  # the last lies in class 0's region but claims class 1
    assert pipeline.in_manifold(real, fake, 2, real_y, fake_y).tolist() == [True, True, False, False]
    assert pipeline.in_manifold(real, fake, 2).tolist() == [True, True, False, True]


def test_manifold_filter_takes_a_metric_and_sparse_rows():
    from scipy import sparse

    counts = np.array([[4.0, 1, 0], [3, 1, 0], [4, 2, 0]])  # word counts of three real texts of one class
    fake = np.array([[40.0, 10, 0], [0, 1, 4]])  # the first text ten times over, and other words
    assert pipeline.in_manifold(counts, fake, 1).tolist() == [False, False]  # far in euclidean distance
    cosine = pipeline.in_manifold(sparse.csr_matrix(counts), sparse.csr_matrix(fake), 1, metric="cosine")
    assert cosine.tolist() == [True, False]  # the same direction: inside under cosine


def test_mix_adds_ratio_times_the_real_count_spread_over_classes():
    real_x, real_y = np.zeros((10, 2)), np.repeat([0, 1], 5)
    fake_x, fake_y = np.ones((40, 2)), np.repeat([0, 1], 20)
    x, y, synthetic = pipeline.mix(real_x, real_y, fake_x, fake_y, ratio=2.0, seed=0)
    assert len(x) == 30 and synthetic.sum() == 20 and np.bincount(y[synthetic]).tolist() == [10, 10]
    assert (x[~synthetic] == 0).all() and (x[synthetic] == 1).all()
    few_y = np.array([0, 1, 1, 1, 1, 1])  # class 0 has one sample left after filtering: the rest from class 1
    _, y, synthetic = pipeline.mix(real_x, real_y, np.ones((6, 2)), few_y, ratio=0.5, seed=0)
    assert np.bincount(y[synthetic]).tolist() == [1, 4]
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(GentoolkitError, match="ratio"):
            pipeline.mix(real_x, real_y, fake_x, fake_y, ratio=bad, seed=0)


def test_importing_the_plugin_imports_no_torch():
    code = ("import sys; from gentoolkit.cli import make_app; from typer.testing import CliRunner; app = make_app(); "
            "r = [CliRunner().invoke(app, a) for a in (['--help'], ['plugins'], ['augment', '--help'], ['tasks'])]; "
            "assert all(x.exit_code == 0 for x in r), [x.output for x in r]; "
            "assert 'augmentation' in r[1].output and '--ratio' in r[2].output, r[1].output; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sklearn', 'kornia', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "GENTOOLKIT_LOAD_PLUGINS": "augmentation", "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr + out.stdout
    assert out.stdout.strip() == "[]"
