"""Molecules and text augmentation: labelled input and its bad cases, the classical baselines, the
generators reached through the registry, and both tasks end to end on tiny configs."""

from __future__ import annotations

import csv
import gzip
import json
from importlib import resources

import numpy as np
import pytest

from gentoolkit import RuntimeOptions, Toolkit
from gentoolkit.errors import SkippedInputWarning
from gentoolkit_augmentation import molecules, pipeline, text
from gentoolkit_augmentation.pipeline import AugmentationError
from gentoolkit_augmentation.report import (BOTH_FILTERS, CAS, CEILING, CLASSICAL, FILTERED, GENERATED,
                                            KNN_FILTERED, REAL)

SEEDS = [0, 1, 2, 3, 4]


@pytest.fixture(scope="module")
def kit():
    return Toolkit()


@pytest.fixture(scope="module")
def shipped_smiles():
    path = resources.files("gentoolkit_molecules") / "data" / "moses_train_sample.smi.gz"
    with gzip.open(str(path), "rt") as handle:
        return [next(handle).split()[0] for _ in range(120)]


def write_csv(path, header, rows):
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def mol_config(**changes):
    return {**molecules.DEFAULTS, "pool": 0, **changes}


# --- molecules -------------------------------------------------------------------------------


def test_property_rule_labels_molecules_by_rdkit_qed(kit, shipped_smiles, tmp_path):
    from rdkit import Chem
    from rdkit.Chem import QED

    path = tmp_path / "mols.smi"
    path.write_text("\n".join(shipped_smiles[:40]) + "\n")
    data = molecules.load_labelled(kit, mol_config(data=str(path), threshold=0.8))
    expected = [int(QED.qed(Chem.MolFromSmiles(s)) >= 0.8) for s in data.smiles]
    assert data.classes == ("inactive", "active") and data.labels.tolist() == expected
    assert 0 < sum(expected) < len(expected)


def test_a_registered_smiles_dataset_is_read_through_the_registry(shipped_smiles):
    from gentoolkit import Dataset, hookimpl

    class Plugin:
        @hookimpl
        def register_datasets(self, register):
            register(Dataset("few", lambda: shipped_smiles[:30] + ["C1CC"], items="smiles"))

    kit = Toolkit(plugins=[Plugin()], entrypoints=False)
    with pytest.warns(SkippedInputWarning, match="1 of 31 molecules in few.*item 31"):
        data = molecules.load_labelled(kit, mol_config(data="few", threshold=0.8))
    assert len(data.smiles) == 30 and data.source == "few"
    with pytest.raises(AugmentationError, match="SMILES only"):
        molecules.load_labelled(kit, mol_config(data="few", label_column="active"))


def test_invalid_smiles_rows_are_skipped_and_reported_or_refused_when_strict(kit, tmp_path):
    path = write_csv(tmp_path / "mols.csv", ["smiles", "activity"],
                     [["CCO", "a"], ["c1ccccc1O", "a"], ["C1CC", "b"], ["CCN", "b"], ["CCCl", "b"], ["", "a"]])
    with pytest.warns(SkippedInputWarning, match=r"2 of 6 molecules.*line 4: 'C1CC' is not a valid SMILES"):
        data = molecules.load_labelled(kit, mol_config(data=str(path), label_column="activity"))
    assert data.smiles == ["CCO", "Oc1ccccc1", "CCN", "CCCl"] and data.labels.tolist() == [0, 0, 1, 1]
    with pytest.raises(AugmentationError, match="line 4"):
        molecules.load_labelled(kit, mol_config(data=str(path), label_column="activity", strict=True))


def test_a_missing_label_column_and_a_one_molecule_class_are_clear_errors(kit, tmp_path):
    path = write_csv(tmp_path / "mols.csv", ["smiles", "activity"], [["CCO", "a"], ["CCN", "a"], ["CCCl", "b"]])
    with pytest.raises(AugmentationError, match="no label column 'label'.*columns: smiles, activity"):
        molecules.load_labelled(kit, mol_config(data=str(path), label_column="label"))
    with pytest.raises(AugmentationError, match="'b'.*one item"):
        molecules.load_labelled(kit, mol_config(data=str(path), label_column="activity"))
    with pytest.raises(AugmentationError, match="use one of qed, logp"):
        molecules.load_labelled(kit, mol_config(data=str(path), property="potency"))


def test_smiles_enumeration_changes_the_strings_but_not_the_fingerprints():
    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "c1ccc2[nH]ccc2c1"]
    enumerated = molecules.randomised(smiles, 4, seed=0)
    assert len(enumerated) == 8 and len(set(enumerated[:4])) > 1
    assert {molecules.canonical(s) for s in enumerated[:4]} == {molecules.canonical(smiles[0])}
    fps = molecules.fingerprints(enumerated)
    assert np.array_equal(fps[:4], np.repeat(molecules.fingerprints(smiles[:1]), 4, axis=0))


def test_the_knn_filter_keeps_analogues_of_a_class_and_drops_strangers_by_tanimoto():
    real = molecules.fingerprints(["CCCO", "CCCCO", "CCCCCO", "c1ccccc1C", "c1ccccc1CC", "c1ccccc1CCC"]).astype(bool)
    real_y = np.array([0, 0, 0, 1, 1, 1])  # alcohols, alkylbenzenes
    fake = molecules.fingerprints(["CCCCCCO", "c1ccccc1CCCC", "CCCCCCO", "O=C(O)c1ccncc1"]).astype(bool)
    fake_y = np.array([0, 1, 1, 0])  # a longer alcohol, a longer alkylbenzene, an alcohol labelled 1, a stranger
    assert pipeline.in_manifold(real, fake, 2, real_y, fake_y, "jaccard").tolist() == [True, True, False, False]


def test_a_prior_fine_tuned_per_class_through_the_registry_samples_new_valid_molecules(kit, shipped_smiles, tmp_path):
    from gentoolkit.runtime import Runtime

    data = molecules.Labelled(shipped_smiles[:6], np.array([0, 0, 0, 1, 1, 1]), ("inactive", "active"), "test")
    config = mol_config(samples_per_class=12, fine_tune={"epochs": 1, "batch_size": 4, "learning_rate": 1e-4})
    with Runtime(RuntimeOptions(device="cpu", out=tmp_path, progress=False), toolkit=kit) as runtime:
        made = molecules.generate(runtime, data, np.arange(6), set(shipped_smiles[6:]), seed=0, config=config)
    assert (tmp_path / "generators" / "seed0-active" / "run" / "model.json").exists()
    assert len(made.smiles) >= 12 and made.stats["active/validity"] > 0.5  # the shipped prior makes valid SMILES
    assert set(made.labels.tolist()) == {0, 1}
    assert all(molecules.canonical(s) == s for s in made.smiles)
    assert not set(made.smiles) & set(shipped_smiles)  # neither the budget nor a test molecule comes back


def test_molecules_task_end_to_end_on_a_tiny_prior(kit, shipped_smiles, tmp_path):
    """An untrained tiny prior makes no valid molecule: the generated mixes are then real only
    (nothing to add) and generated only scores chance, a documented fallback."""
    (tmp_path / "mols.smi").write_text("\n".join(shipped_smiles[:60] + ["not-a-smiles"]) + "\n")
    tiny = kit.save_model(kit.create_model("prior-lstm", smiles=shipped_smiles, embedding=8, hidden=8, layers=1),
                          tmp_path / "tiny")
    overrides = {"data": str(tmp_path / "mols.smi"), "prior": str(tiny.with_suffix("")), "threshold": 0.8,
                 "per_class": 4, "samples_per_class": 4, "fine_tune.epochs": 1}
    with pytest.warns(SkippedInputWarning, match="1 of 61"):
        result = kit.run("augmentation-molecules", overrides=overrides,
                         options=RuntimeOptions(device="cpu", out=tmp_path / "run", progress=False))
    experiment = result.outputs["experiment"]
    assert experiment.seeds == SEEDS and experiment.metric == "roc_auc"
    for method in (REAL, CLASSICAL, GENERATED, FILTERED, CAS, CEILING, molecules.FP_DROPOUT, KNN_FILTERED,
                   BOTH_FILTERS):
        assert len(experiment.scores[method]) == 5
    assert result.metrics["molecules/generated_count"] == 0 and result.metrics["molecules/active/validity"] == 0
    assert experiment.scores[GENERATED] == experiment.scores[REAL] and experiment.scores[CAS] == [0.5] * 5
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["molecules/skipped_invalid"] == 1 and saved["experiments"][0]["metric"] == "roc_auc"


# --- text ------------------------------------------------------------------------------------


def test_pydoc_groups_labels_each_paragraph_with_its_topics_chapter():
    from pydoc_data.topics import topics

    data = text.pydoc_groups()
    assert data.classes == tuple(text.PYDOC_GROUPS) and len(data.texts) > 500
    assert np.bincount(data.labels).min() >= 50 and all(len(t.split()) >= 20 for t in data.texts)
    first_assert = " ".join(next(p for p in topics["assert"].split("\n\n") if len(p.split()) >= 20).split())
    assert data.classes[data.labels[data.texts.index(first_assert)]] == "simple statements"


def test_text_csv_bad_rows_missing_columns_and_lonely_classes(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["text", "label"],
                     [["good news today", "pos"], ["great result", "pos"], ["", "neg"], ["bad day", "neg"],
                      ["awful", "neg"], ["no label here", ""]])
    with pytest.warns(SkippedInputWarning, match="2 of 6 rows.*line 4: empty text"):
        data = text.load({**text.DEFAULTS, "data": str(path)})
    assert data.texts == ["good news today", "great result", "bad day", "awful"] and data.classes == ("neg", "pos")
    with pytest.raises(AugmentationError, match="line 4: empty text"):
        text.load({**text.DEFAULTS, "data": str(path), "strict": True})
    with pytest.raises(AugmentationError, match="no column 'category'.*set label_column"):
        text.load({**text.DEFAULTS, "data": str(path), "label_column": "category"})
    lonely = write_csv(tmp_path / "l.csv", ["text", "label"], [["a b", "x"], ["c d", "x"], ["e f", "y"]])
    with pytest.raises(AugmentationError, match="'y'.*one item"):
        text.load({**text.DEFAULTS, "data": str(lonely)})


def test_eda_swaps_and_deletes_words_only():
    sentence = "the quick brown fox jumps over the lazy dog today"
    variants = text.eda([sentence], copies=3, p=0.2, seed=0)
    assert len(variants) == 3 and all(v != sentence for v in variants)
    assert all(not set(v.split()) - set(sentence.split()) for v in variants)  # no new word appears
    swapped = text.eda([sentence], copies=1, p=0.0, seed=0)[0]  # p = 0 still swaps one pair, deletes none
    assert sorted(swapped.split()) == sorted(sentence.split())


def test_text_task_end_to_end_with_a_tiny_language_model(kit, tmp_path):
    topics = {"cats": "cat kitten whiskers purr meow", "cars": "car engine wheel road drive",
              "food": "bread cheese soup apple salad"}
    rng = np.random.default_rng(0)
    rows = [[" ".join(rng.choice(words.split(), 8)), label] for label, words in topics.items() for _ in range(8)]
    path = write_csv(tmp_path / "t.csv", ["text", "label"], rows)
    overrides = {"data": str(path), "per_class": 3, "samples_per_item": 2, "prompt_words": 3, "max_new_tokens": 4,
                 "lm_train": {"steps": 3, "batch_size": 4, "lr": 1e-3, "n_layer": 1, "n_embd": 16, "vocab_size": 64,
                              "block_size": 8}}
    result = kit.run("augmentation-text", overrides=overrides,
                     options=RuntimeOptions(device="cpu", out=tmp_path / "run", progress=False))
    experiment = result.outputs["experiment"]
    assert experiment.metric == "balanced_accuracy"
    assert set(experiment.scores) == {REAL, CLASSICAL, GENERATED, FILTERED, CAS, CEILING, KNN_FILTERED, BOTH_FILTERS}
    with (tmp_path / "run" / "samples.tsv").open() as handle:
        samples = list(csv.DictReader(handle, delimiter="\t"))
    assert len(samples) == 3 * 3 * 2  # per class x classes x samples per item
    openings = {(label, " ".join(t.split()[:3])) for t, label in rows}
    assert all((s["class"], " ".join(s["text"].split()[:3])) in openings for s in samples)
    assert result.metrics["text/generated_count"] == 18
    assert {s["in_knn_manifold"] for s in samples} <= {"True", "False"}
