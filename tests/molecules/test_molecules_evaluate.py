"""Evaluators of generated molecules, and PMO's top-k AUC on hand-computed cases."""

import pytest

pytest.importorskip("rdkit")

from rdkit import Chem, DataStructs  # noqa: E402
from rdkit.Chem import rdFingerprintGenerator  # noqa: E402

from gentoolkit_molecules import evaluate  # noqa: E402

SAMPLE = ["CCO", "OCC", "c1ccccc1", "not a molecule", "c1ccccc1C", ""]


def test_validity_uniqueness_novelty():
    assert evaluate.validity(SAMPLE) == pytest.approx(4 / 6)
    assert evaluate.uniqueness(SAMPLE) == pytest.approx(3 / 4)  # CCO and OCC are one molecule
    assert evaluate.novelty(SAMPLE, ["C(C)O", "Cc1ccccc1"]) == pytest.approx(1 / 3)
    assert evaluate.validity([]) == 0.0 and evaluate.uniqueness(["xx"]) == 0.0


def test_internal_diversity_is_moses_intdiv1():
    assert evaluate.internal_diversity(["c1ccccc1O", "Oc1ccccc1"]) == pytest.approx(0.0)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    a, b = (generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in ("CCO", "c1ccccc1C"))
    s = DataStructs.TanimotoSimilarity(a, b)
    # all four ordered pairs, self-pairs included: 1 - (1 + s + s + 1) / 4
    assert evaluate.internal_diversity(["CCO", "c1ccccc1C", "xx"]) == pytest.approx((1 - s) / 2)


def test_scaffold_diversity():
    smiles = ["c1ccccc1C", "c1ccccc1CC", "C1CCCCC1", "CCO", "xx"]
    assert evaluate.scaffold_diversity(smiles) == pytest.approx(3 / 4)  # benzene twice, cyclohexane, none


def test_fcd_is_small_for_the_same_set_and_grows_for_another():
    drugs = ["CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
             "CC(=O)Nc1ccc(O)cc1", "OC(=O)c1ccccc1O", "c1ccc2ccccc2c1"]
    alkanes = ["CCCC", "CCCCC", "CCCCCC", "CC(C)C", "CCC(C)C", "CCCCCCC"]
    same = evaluate.fcd(drugs, drugs)
    other = evaluate.fcd(alkanes, drugs)
    assert abs(same) < 1e-3 and other > 10 * max(same, 1e-3)


def test_top_k_mean():
    assert evaluate.top_k_mean([0.1, 0.9, 0.5, 0.7], 2) == pytest.approx(0.8)
    assert evaluate.top_k_mean([0.2, 0.4], 10) == pytest.approx(0.3)


def chain(n):
    return "C" * n  # distinct molecules: n-alkanes


def test_pmo_auc_hand_computed_with_held_last_value():
    # 250 distinct molecules, the i-th scoring i/250; an invalid SMILES and a repeat cost no call.
    smiles = [chain(i) for i in range(1, 251)]
    scores = [i / 250 for i in range(1, 251)]
    smiles[120:120] = ["xx", chain(3)]
    scores[120:120] = [0.99, 0.99]
    # top-1 after 100 calls 0.4, after 200 0.8, after 250 1.0; trapezoids from 0, then 1.0 held to 300:
    # 100*(0.4+0)/2 + 100*(0.8+0.4)/2 + 50*(1.0+0.8)/2 + 50*1.0 = 20 + 60 + 45 + 50 = 175
    assert evaluate.pmo_top_k_auc(smiles, scores, budget=300, k=1, freq=100) == pytest.approx(175 / 300)
    # top-10 means (of i = 91..100, 191..200, 241..250): 0.382, 0.782, 0.982
    expected = (100 * 0.382 / 2 + 100 * (0.782 + 0.382) / 2 + 50 * (0.982 + 0.782) / 2 + 50 * 0.982) / 300
    assert evaluate.pmo_top_k_auc(smiles, scores, budget=300) == pytest.approx(expected)


def test_pmo_auc_stops_recording_past_the_budget_as_pmo_does():
    smiles = [chain(i) for i in range(1, 151)]
    scores = [i / 150 for i in range(1, 151)]
    # PMO records up to budget + 1 molecules, takes no intermediate point (range(100, 100) is empty)
    # and integrates one trapezoid from 0 to the 101 recorded: 101 * (101/150) / 2 / 100
    assert evaluate.pmo_top_k_auc(smiles, scores, budget=100, k=1) == pytest.approx(101 * (101 / 150) / 2 / 100)
    with pytest.raises(ValueError, match="one score each"):
        evaluate.pmo_top_k_auc(smiles, scores[:-1], budget=100)
