"""Scoring components, transforms, aggregation, the scoring function, its hook and the PMO oracles."""

import math
import os
import textwrap

import numpy as np
import pytest

pytest.importorskip("rdkit")

from rdkit import Chem, DataStructs, rdBase  # noqa: E402
from rdkit.Chem import AllChem, Descriptors, rdFingerprintGenerator  # noqa: E402

import gentoolkit  # noqa: E402
from gentoolkit.errors import GentoolkitError, UnknownNameError  # noqa: E402
from gentoolkit_molecules import hookspecs  # noqa: E402
from gentoolkit_molecules.scoring.aggregation import arithmetic_mean, geometric_mean  # noqa: E402
from gentoolkit_molecules.scoring.builtin import register_builtin_components  # noqa: E402
from gentoolkit_molecules.scoring.component import ScoringComponent, ScoringConfigError  # noqa: E402
from gentoolkit_molecules.scoring.function import build_scoring_function  # noqa: E402
from gentoolkit_molecules.scoring.pmo import CAMPHOR, CELECOXIB, MENTHOL, OSIMERTINIB, PMO_ORACLES  # noqa: E402
from gentoolkit_molecules.scoring.transforms import make_transform  # noqa: E402

ETHANOL, BENZENE, ASPIRIN = "CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O"
DIAMINOBENZOIC_ACID = "Nc1ccc(cc1N)C(=O)O"  # C7H8N2O2


@pytest.fixture(scope="module")
def builtins():
    components = {}
    register_builtin_components(lambda c: components.__setitem__(c.name, c))
    return components


def score(builtins, component, molecules, /, transform=None, **params):
    entry = {"component": component, "params": params, "transform": transform or {"type": "none"}}
    return build_scoring_function({"components": [entry]}, builtins)(molecules)


# --- transforms ------------------------------------------------------------------------------------


def test_sigmoids_follow_reinvent_base10_formula():
    x = np.array([0.0, 5.0, 10.0, 7.0])
    up = make_transform({"type": "sigmoid", "low": 0, "high": 10, "k": 0.5}, "t")(x)
    expected = 1 / (1 + 10 ** (-10 * 0.5 * (x - 5) / 10))
    np.testing.assert_allclose(up, expected)
    assert up[1] == pytest.approx(0.5) and up[2] == pytest.approx(0.996848, abs=1e-6)
    down = make_transform({"type": "reverse_sigmoid", "low": 0, "high": 10, "k": 0.5}, "t")(x)
    np.testing.assert_allclose(down, 1 - expected)
    hard = make_transform({"type": "sigmoid", "low": 3, "high": 3, "k": 1}, "t")(np.array([2.0, 4.0]))
    np.testing.assert_array_equal(hard, [0.0, 1.0])


def test_double_sigmoid_step_and_value_map():
    double = make_transform({"type": "double_sigmoid", "low": 2, "high": 4}, "t")
    values = double(np.array([2.0, 3.0, 4.0, 10.0]))
    assert values[0] == pytest.approx(0.5)                       # left edge
    assert values[1] == pytest.approx(1 - 1 / (1 + 10 ** 1.5))   # centre: right branch, k = 150/100
    assert values[2] == pytest.approx(0.5) and values[3] < 1e-6
    step = make_transform({"type": "step", "low": 1, "high": 2}, "t")(np.array([0.5, 1.0, 2.0, np.nan]))
    np.testing.assert_array_equal(step[:3], [0, 1, 1])
    assert np.isnan(step[3])
    mapped = make_transform({"type": "value_map", "mapping": {"0": 0.2, "1": 1.0}}, "t")(np.array([1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(mapped[:2], [1.0, 0.2])
    assert np.isnan(mapped[2])


def test_guacamol_modifiers():
    x = np.array([0.0, 1.0, 3.0])
    np.testing.assert_allclose(make_transform({"type": "gaussian", "mu": 1, "sigma": 2}, "t")(x),
                               np.exp(-0.5 * ((x - 1) / 2) ** 2))
    np.testing.assert_allclose(make_transform({"type": "min_gaussian", "mu": 1, "sigma": 1}, "t")(x),
                               [1.0, 1.0, math.exp(-2)])
    np.testing.assert_allclose(make_transform({"type": "max_gaussian", "mu": 1, "sigma": 1}, "t")(x),
                               [math.exp(-0.5), 1.0, 1.0])
    np.testing.assert_allclose(make_transform({"type": "clipped", "upper_x": 0.8}, "t")(np.array([0.0, 0.4, 0.9])),
                               [0.0, 0.5, 1.0])


def test_bad_transforms_are_named():
    with pytest.raises(UnknownNameError, match="'sigmoid'") as err:
        make_transform({"type": "sigmod", "low": 0, "high": 1, "k": 1}, "drug-likeness")
    assert "drug-likeness" in str(err.value)
    with pytest.raises(ScoringConfigError, match="'kk'"):
        make_transform({"type": "sigmoid", "low": 0, "high": 1, "kk": 1}, "x")
    with pytest.raises(ScoringConfigError, match="needs the parameter 'k'"):
        make_transform({"type": "sigmoid", "low": 0, "high": 1}, "x")
    with pytest.raises(ScoringConfigError, match="sigma must be positive"):
        make_transform({"type": "gaussian", "mu": 0, "sigma": 0}, "x")
    with pytest.raises(ScoringConfigError, match="must be a number"):
        make_transform({"type": "step", "low": "a", "high": 1}, "x")


# --- aggregation -----------------------------------------------------------------------------------


def test_weighted_means_drop_nan_and_zero_the_geometric_total():
    scores = np.array([[0.5, 0.0, np.nan], [1.0, 0.5, 0.4]])
    weights = np.array([1.0, 3.0])
    np.testing.assert_allclose(arithmetic_mean(scores, weights), [0.875, 0.375, 0.4])
    np.testing.assert_allclose(geometric_mean(scores, weights), [0.5 ** 0.25, 0.0, 0.4])
    assert arithmetic_mean(np.array([[np.nan]]), np.array([1.0]))[0] == 0.0


# --- components ------------------------------------------------------------------------------------


def test_descriptor_components(builtins):
    smiles = [ETHANOL, ASPIRIN]
    assert score(builtins, "molecular_weight", smiles).raw["molecular_weight"] == pytest.approx([46.069, 180.159])
    assert list(score(builtins, "hbd", smiles).raw["hbd"]) == [1, 1]
    assert list(score(builtins, "aromatic_rings", smiles).raw["aromatic_rings"]) == [0, 1]
    assert list(score(builtins, "heavy_atoms", smiles).raw["heavy_atoms"]) == [3, 13]
    assert score(builtins, "tpsa", smiles).raw["tpsa"] == pytest.approx([20.23, 63.6])
    qed = score(builtins, "qed", smiles).raw["qed"]
    assert qed == pytest.approx([0.4068, 0.5501], abs=1e-4)
    sa = score(builtins, "sa_score", [BENZENE, ASPIRIN]).raw["sa_score"]
    assert sa[0] == pytest.approx(1.0) and 1.0 < sa[1] < 3.0


def test_tanimoto_similarity(builtins):
    refs = [ASPIRIN, BENZENE]
    r = score(builtins, "tanimoto_similarity", [ASPIRIN, ETHANOL], smiles=refs)
    assert r.raw["tanimoto_similarity"][0] == 1.0
    mean = score(builtins, "tanimoto_similarity", [ASPIRIN], smiles=refs, aggregate="mean").raw["tanimoto_similarity"]
    with rdBase.BlockLogs():
        a, b = (AllChem.GetMorganFingerprint(Chem.MolFromSmiles(s), 2) for s in (ASPIRIN, BENZENE))
    assert mean[0] == pytest.approx((1.0 + DataStructs.TanimotoSimilarity(a, b)) / 2)
    bits = score(builtins, "tanimoto_similarity", [BENZENE], smiles=[ASPIRIN], counts=False)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fa, fb = (generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in (BENZENE, ASPIRIN))
    assert bits.raw["tanimoto_similarity"][0] == pytest.approx(DataStructs.TanimotoSimilarity(fa, fb))


def test_substructures_and_alerts(builtins):
    smiles = [ETHANOL, ASPIRIN, "Oc1ccccc1O"]
    required = score(builtins, "required_substructures", smiles, smarts=["c1ccccc1", "[OX2H]"], require="all")
    assert list(required.raw["required_substructures"]) == [0, 1, 1]
    forbidden = score(builtins, "forbidden_substructures", smiles, smarts="C(=O)O")
    assert list(forbidden.raw["forbidden_substructures"]) == [1, 0, 1]
    alerts = score(builtins, "structural_alerts", smiles, catalogs=["PAINS"])
    assert list(alerts.raw["structural_alerts"]) == [1, 1, 0]  # catechol is a PAINS


def test_isomer_score(builtins):
    r = score(builtins, "isomer_score", [DIAMINOBENZOIC_ACID, "Cc1ccccc1"], formula="C7H8N2O2")
    # toluene C7H8: N and O off by 2 (exp(-2) each), 15 atoms instead of 19 (exp(-2)): gmean of 5 terms
    assert r.raw["isomer_score"] == pytest.approx([1.0, math.exp(-6 / 5)])


def test_user_function_from_file_and_module(builtins, tmp_path, monkeypatch):
    path = tmp_path / "my_score.py"
    path.write_text("def length(smiles):\n    return [len(s) for s in smiles]\n"
                    "def atoms(mols):\n    return [m.GetNumAtoms() for m in mols]\n"
                    "def wrong(smiles):\n    return [1.0]\n")
    r = score(builtins, "user_function", [ETHANOL, "CCCC", "nope"], function=f"{path}:length")
    assert list(r.raw["user_function"][:2]) == [3, 4] and not r.valid[2]
    monkeypatch.syspath_prepend(str(tmp_path))
    r = score(builtins, "user_function", [ASPIRIN], function="my_score:atoms", input="mols")
    assert r.raw["user_function"][0] == 13
    with pytest.raises(ScoringConfigError, match="nosuchmodule"):
        score(builtins, "user_function", [ETHANOL], function="nosuchmodule:f")
    with pytest.raises(ScoringConfigError, match="no function 'missing'"):
        score(builtins, "user_function", [ETHANOL], function=f"{path}:missing")
    r = score(builtins, "user_function", [ETHANOL, BENZENE], function=f"{path}:wrong")
    assert list(r.total) == [0, 0] and r.reasons[0] == r.reasons[1]
    assert "returned 1 values for 2 molecules" in r.reasons[0]


def test_a_user_function_file_travels_with_the_scorer_to_workers_without_its_file(builtins, tmp_path):
    """A Ray worker on another machine has no copy of the user's oracle.py: the scorer carries its code."""
    import pickle

    path = tmp_path / "oracle.py"
    path.write_text("import math\nSCALE = 2\ndef score(smiles):\n    return [SCALE * math.log(len(s)) for s in smiles]\n")
    scorer = builtins["user_function"].create(function=f"{path}:score")
    shipped = pickle.dumps(scorer)
    path.unlink()  # the worker's machine: no such file
    remote = pickle.loads(shipped)
    assert remote([Chem.MolFromSmiles("CCCC")]).tolist() == pytest.approx([2 * math.log(4)])


# --- the scoring function --------------------------------------------------------------------------

MULTI = {
    "aggregation": "geometric",
    "components": [
        {"component": "qed", "name": "drug-likeness", "weight": 2.0},
        {"component": "sa_score", "name": "synthesis", "transform": {"type": "reverse_sigmoid", "low": 2, "high": 6, "k": 0.5}},
        {"component": "molecular_weight", "transform": {"type": "double_sigmoid", "low": 150, "high": 500}},
    ],
}


def test_scoring_function_totals_and_invalid_molecules(builtins):
    f = build_scoring_function(MULTI, builtins)
    assert f.labels == ["drug-likeness", "synthesis", "molecular_weight"]
    r = f([ASPIRIN, "C1CC", "", ETHANOL])
    np.testing.assert_array_equal(r.valid, [True, False, False, True])
    assert r.total[1] == 0.0 and r.total[2] == 0.0 and np.isnan(r.raw["drug-likeness"][1])
    t = np.array([r.transformed[label][0] for label in f.labels])
    assert r.total[0] == pytest.approx(np.prod(t ** (np.array([2, 1, 1]) / 4)))
    assert 0 < r.total[3] < r.total[0]  # ethanol is too small for the weight window
    none_valid = f(["xx", "C(("])
    assert not none_valid.valid.any() and list(none_valid.total) == [0.0, 0.0]


def test_config_errors_name_the_problem(builtins):
    def build(entry, **scoring):
        return build_scoring_function({"components": [entry], **scoring}, builtins)

    with pytest.raises(UnknownNameError, match="Did you mean 'qed'"):
        build({"component": "qde"})
    with pytest.raises(ScoringConfigError, match=r"'ref' \(tanimoto_similarity\).*'C1CCX'"):
        build({"component": "tanimoto_similarity", "name": "ref", "params": {"smiles": ["CCO", "C1CCX"]}})
    with pytest.raises(ScoringConfigError, match="'bad' .*'c1ccc\\['"):
        build({"component": "forbidden_substructures", "name": "bad", "params": {"smarts": ["c1ccc["]}})
    with pytest.raises(ScoringConfigError, match="unknown fingerprint 'MACCS'"):
        build({"component": "tanimoto_similarity", "params": {"smiles": "CCO", "fingerprint": "MACCS"}})
    with pytest.raises(ScoringConfigError, match="weight must be a number >= 0"):
        build({"component": "qed", "weight": -1})
    with pytest.raises(ScoringConfigError, match="no parameter 'radius'"):
        build({"component": "qed", "params": {"radius": 2}})
    with pytest.raises(ScoringConfigError, match="unknown key 'wieght'"):
        build({"component": "qed", "wieght": 1})
    with pytest.raises(UnknownNameError, match="aggregation"):
        build({"component": "qed"}, aggregation="harmonic")
    with pytest.raises(ScoringConfigError, match="'qed' is used twice"):
        build_scoring_function({"components": [{"component": "qed"}, {"component": "qed"}]}, builtins)
    with pytest.raises(ScoringConfigError, match="at least one"):
        build_scoring_function({"components": []}, builtins)


def test_expensive_components_run_in_worker_processes(builtins, tmp_path):
    path = tmp_path / "slow_oracle.py"
    path.write_text(textwrap.dedent("""
        import os, time
        def pid_and_size(smiles):
            time.sleep(0.01)
            return [os.getpid() * 1000 + len(s) for s in smiles]
        def broken(smiles):
            raise RuntimeError("docking server down")
    """))
    config = {"parallel": 2, "aggregation": "arithmetic", "components": [
        {"component": "user_function", "name": "slow", "params": {"function": f"{path}:pid_and_size"}, "weight": 0},
        {"component": "heavy_atoms"}]}
    smiles = [ETHANOL, "CCCC", "xx", BENZENE, ASPIRIN]
    with build_scoring_function(config, builtins) as f:
        r = f(smiles)
    raw = r.raw["slow"]
    pids = {int(v) // 1000 for v in raw[r.valid]}
    assert os.getpid() not in pids and len(pids) == 2  # two chunks, two workers
    assert [int(v) % 1000 for v in raw[r.valid]] == [3, 4, 8, 21]
    np.testing.assert_array_equal(r.total[r.valid], [3, 4, 6, 13])
    assert r.reasons == ["", "", "invalid SMILES", "", ""]
    config["components"][0]["params"]["function"] = f"{path}:broken"
    with build_scoring_function(config, builtins) as f:
        r = f(smiles)  # a failing oracle costs its molecules their score, not the run
    assert list(r.total) == [0.0] * 5 and np.isnan(r.raw["slow"]).all()
    assert r.reasons[0] == "slow: RuntimeError: docking server down" and r.reasons[2] == "invalid SMILES"


def test_an_expensive_component_failing_on_some_molecules_scores_them_0_with_a_reason(builtins, tmp_path):
    path = tmp_path / "picky_oracle.py"
    path.write_text(textwrap.dedent("""
        def no_rings(mols):
            if any(m.GetRingInfo().NumRings() for m in mols):
                raise ValueError("cannot dock rings")
            return [m.GetNumAtoms() for m in mols]
    """))
    for parallel in (1, 2):
        config = {"parallel": parallel, "aggregation": "arithmetic", "components": [
            {"component": "user_function", "name": "dock", "params": {"function": f"{path}:no_rings", "input": "mols"}},
            {"component": "heavy_atoms"}]}
        with build_scoring_function(config, builtins) as f:
            r = f([ETHANOL, BENZENE, "CCCC", ASPIRIN])
        np.testing.assert_array_equal(r.total, [3.0, 0.0, 4.0, 0.0])  # (atoms + atoms) / 2, 0 where it failed
        assert r.reasons == ["", "dock: ValueError: cannot dock rings", "", "dock: ValueError: cannot dock rings"]
        assert r.raw["heavy_atoms"][1] == 6  # the components that worked keep their values


# --- the plugin's hook -----------------------------------------------------------------------------


class FakeDockingPlugin:
    """A third-party plugin contributing one component through the molecules plugin's hook."""

    @gentoolkit.hookimpl
    def register_scoring_components(self, register):
        register(ScoringComponent("fake_docking", create=lambda **p: CarbonCount(**p), expensive=True))


class CarbonCount:
    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def __call__(self, mols):
        return np.array([-self.scale * sum(a.GetSymbol() == "C" for a in m.GetAtoms()) for m in mols])


def test_hook_contributes_components_to_the_registry(builtins):
    plugins = pytest.importorskip("gentoolkit.plugins")
    host = plugins.PluginHost()
    host.pm.add_hookspecs(hookspecs)
    host.register(FakeDockingPlugin(), name="fake-docking")
    registry = host.contributions("register_scoring_components", kind="scoring component")
    assert "fake_docking" in registry
    f = build_scoring_function({"components": [{"component": "fake_docking", "params": {"scale": 2.0},
                                                "transform": {"type": "reverse_sigmoid", "low": -20, "high": 0, "k": 0.5}}]},
                               registry)
    r = f([ETHANOL, BENZENE])
    assert list(r.raw["fake_docking"]) == [-4.0, -12.0]
    assert r.total[1] > r.total[0]


# --- PMO oracles: the same numbers as TDC's definitions, computed here the way TDC does ---------------


def _tdc_reference(name, smiles):
    """TDC's oracle.py formulas written out with the legacy RDKit fingerprint API it calls."""
    from scipy.stats import gmean

    mol = Chem.MolFromSmiles(smiles)
    ecfp4 = lambda m: AllChem.GetMorganFingerprint(m, 2)  # noqa: E731
    tanimoto = lambda fp, ref: DataStructs.TanimotoSimilarity(fp(mol), fp(Chem.MolFromSmiles(ref)))  # noqa: E731
    if name == "celecoxib_rediscovery":
        return tanimoto(ecfp4, CELECOXIB)
    if name == "median1":
        return gmean([tanimoto(ecfp4, CAMPHOR), tanimoto(ecfp4, MENTHOL)])
    if name == "osimertinib_mpo":
        fcfp4 = lambda m: AllChem.GetMorganFingerprint(m, 2, useFeatures=True)  # noqa: E731
        ecfp6 = lambda m: AllChem.GetMorganFingerprint(m, 3)  # noqa: E731
        tpsa = math.exp(-0.5 * ((min(Descriptors.TPSA(mol), 100) - 100) / 10) ** 2)
        logp = math.exp(-0.5 * ((max(Descriptors.MolLogP(mol), 1) - 1) / 1) ** 2)
        sim1 = min(max(tanimoto(fcfp4, OSIMERTINIB) / 0.8, 0.0), 1.0)
        sim2 = math.exp(-0.5 * ((max(tanimoto(ecfp6, OSIMERTINIB), 0.85) - 0.85) / 0.1) ** 2)
        return gmean([tpsa, logp, sim1, sim2])
    raise KeyError(name)


@pytest.mark.parametrize("name", ["celecoxib_rediscovery", "median1", "osimertinib_mpo"])
def test_pmo_oracles_match_tdc(builtins, name):
    smiles = [CELECOXIB, OSIMERTINIB, ASPIRIN, "CC(C)C1CCC(C)CC1=O", "Cc1ccc(cc1)-c1cc(nn1-c1ccc(cc1)S(N)(=O)=O)C"]
    got = build_scoring_function(PMO_ORACLES[name], builtins)(smiles).total
    with rdBase.BlockLogs():
        expected = [_tdc_reference(name, s) for s in smiles]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_pmo_known_values(builtins):
    def total(name, smiles):
        return build_scoring_function(PMO_ORACLES[name], builtins)(smiles).total

    assert total("celecoxib_rediscovery", [CELECOXIB])[0] == pytest.approx(1.0)
    assert total("isomers_c7h8n2o2", [DIAMINOBENZOIC_ACID, "O=[N+]([O-])c1ccc(N)cc1C"]) == pytest.approx([1.0, 1.0])
    assert total("qed", [ASPIRIN])[0] == pytest.approx(0.5501, abs=1e-4)
    assert set(PMO_ORACLES) == {"qed", "celecoxib_rediscovery", "osimertinib_mpo", "isomers_c7h8n2o2", "median1"}
