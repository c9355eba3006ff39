"""Molecules RL scored on a simulated two-node Ray cluster, with a worker killed mid-run."""

from __future__ import annotations

import csv
import textwrap

import pytest

from gentoolkit.parallel import RAY_INSTALL, ray_available

pytestmark = pytest.mark.skipif(not ray_available(), reason=f"Ray is not installed: {RAY_INSTALL}")
torch = pytest.importorskip("torch")
pytest.importorskip("rdkit")

import gentoolkit_molecules  # noqa: E402
from gentoolkit.api import Toolkit  # noqa: E402
from gentoolkit.runtime import RuntimeOptions  # noqa: E402

TRAIN = ["CCO", "CCN", "CCCO", "CCCN", "OCCO", "NCCN", "CC(C)O", "c1ccccc1", "c1ccncc1", "Cc1ccccc1",
         "Oc1ccccc1", "CC(=O)O", "C1CCCCC1", "C1CCNCC1", "CCCCC", "NCCO", "CC(=O)Nc1ccccc1"]


@pytest.fixture(scope="module")
def cluster():
    """A head and a worker node on this machine (Ray's own Cluster), shared by the module's tests."""
    import ray
    from ray.cluster_utils import Cluster

    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    nodes.add_node(num_cpus=2)
    ray.init(address=nodes.address, log_to_driver=False)
    yield nodes
    ray.shutdown()
    nodes.shutdown()


@pytest.fixture(scope="module")
def prior_path(tmp_path_factory, train_tiny_prior) -> str:
    prior = train_tiny_prior(TRAIN, steps=60, embedding=16, hidden=32)
    return str(prior.save(tmp_path_factory.mktemp("prior") / "tiny").with_suffix(""))


def test_rl_scores_on_two_nodes_and_a_killed_worker_loses_no_molecule(cluster, prior_path, tmp_path):
    oracle = tmp_path / "oracle.py"
    oracle.write_text(textwrap.dedent(f"""
        import os, signal, ray
        def atoms(mols):
            node = ray.get_runtime_context().get_node_id()
            open(os.path.join({str(tmp_path)!r}, "node-" + node), "w").close()
            if len(mols) and not os.path.exists({str(tmp_path / "killed")!r}):
                open({str(tmp_path / "killed")!r}, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)  # this worker dies mid-chunk, once
            return [m.GetNumAtoms() for m in mols]
    """))
    config = {"prior": prior_path, "rl": {"max_steps": 3, "batch_size": 16, "checkpoint_every": 10},
              "scoring": {"aggregation": "arithmetic", "components": [
                  {"component": "user_function", "name": "dock",
                   "params": {"function": f"{oracle}:atoms", "input": "mols"},
                   "transform": {"type": "sigmoid", "low": 2, "high": 12, "k": 0.5}}]}}
    options = RuntimeOptions(device="cpu", out=tmp_path / "run", progress=False, threads=1,
                             executor="ray", executor_address=cluster.address, workers=4, worker_cpus=1)
    kit = Toolkit(plugins=[gentoolkit_molecules], entrypoints=False)
    result = kit.run("molecules", config, options=options)
    with open(tmp_path / "run" / "molecules.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert (tmp_path / "killed").exists()  # a worker really died
    assert len({p.name for p in tmp_path.glob("node-*")}) == 2  # both nodes scored molecules
    assert len(rows) == len({r["smiles"] for r in rows}) == result.metrics["oracle_calls"] > 0  # each once
    scored = [r for r in rows if r["reason"] != "invalid SMILES"]
    assert scored and all(r["reason"] == "" and float(r["dock_raw"]) > 0 for r in scored)  # none lost


def test_the_command_line_sends_scoring_to_the_cluster(cluster, prior_path, tmp_path):
    from typer.testing import CliRunner

    from gentoolkit.cli import make_app

    oracle = tmp_path / "oracle.py"
    oracle.write_text(textwrap.dedent(f"""
        import os, ray
        def rings(mols):
            open(os.path.join({str(tmp_path)!r}, "node-" + ray.get_runtime_context().get_node_id()), "w").close()
            return [m.GetRingInfo().NumRings() for m in mols]
    """))
    (tmp_path / "config.toml").write_text(textwrap.dedent(f"""
        prior = {prior_path!r}
        [rl]
        max_steps = 2
        batch_size = 8
        [[scoring.components]]
        component = "user_function"
        params = {{ function = "{oracle}:rings", input = "mols" }}
    """))
    kit = Toolkit(plugins=[gentoolkit_molecules], entrypoints=False)
    args = ["run", "molecules", "--config", str(tmp_path / "config.toml"), "--executor", "ray", "--workers", "2",
            "--set", f"executor.address={cluster.address}", "--set", "executor.timeout=60", "--device", "cpu",
            "--out", str(tmp_path / "run"), "--no-progress"]
    result = CliRunner().invoke(make_app(kit.host), args)
    assert result.exit_code == 0, result.output
    assert list(tmp_path.glob("node-*"))  # scored in Ray workers, not in this process
    with open(tmp_path / "run" / "molecules.csv", newline="") as f:
        assert all(r["reason"] in ("", "invalid SMILES") for r in csv.DictReader(f))


def test_with_only_cheap_components_an_explicit_executor_still_fans_scoring_out(cluster, tmp_path):
    """`run molecules --executor ray` with the default QED/SA scoring must use the cluster, not ignore it."""
    from gentoolkit.runtime import Runtime
    from gentoolkit_molecules.scoring.function import build_scoring_function

    config = {"components": [{"component": "qed"}, {"component": "sa_score", "name": "sa"}]}
    smiles = ["CCO", "c1ccccc1O", "not a smiles", "CC(=O)Nc1ccccc1"]
    with build_scoring_function(config) as here:
        assert here.pooled == []
        expected = here(smiles)
    options = RuntimeOptions(device="cpu", out=tmp_path / "run", progress=False, threads=1,
                             executor="ray", executor_address=cluster.address, workers=2)
    with Runtime(options) as runtime, build_scoring_function(config, runtime=runtime) as fanned:
        assert fanned.pooled == ["qed", "sa"]
        result = fanned(smiles)
    assert result.total.tolist() == expected.total.tolist() and result.reasons == expected.reasons
