"""The ``molecules`` task end to end, on a tiny prior: outputs, every example config, config errors."""

from __future__ import annotations

import csv
import json
import tomllib
from importlib import resources
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("rdkit")

import gentoolkit_molecules  # noqa: E402
from gentoolkit.api import Toolkit  # noqa: E402
from gentoolkit.errors import ConfigError, GentoolkitError, UnknownNameError  # noqa: E402
from gentoolkit.runtime import RuntimeOptions  # noqa: E402
from gentoolkit_molecules.data import standardise  # noqa: E402
from gentoolkit_molecules.prior import Prior  # noqa: E402

TRAIN = ["CCO", "CCN", "CCCO", "CCCN", "OCCO", "NCCN", "CC(C)O", "CC(N)C", "CCOC", "CNC", "COC",
         "c1ccccc1", "c1ccncc1", "Cc1ccccc1", "Oc1ccccc1", "Nc1ccccc1", "CC(=O)O", "CC(=O)N", "C1CCCCC1",
         "C1CCNCC1", "C1CCOCC1", "CCCCC", "NCCO", "OCCCN", "CCNCC", "COCCN", "CC(C)N", "CC(=O)Nc1ccccc1",
         "Cc1ccc(O)cc1", "CC(=O)Oc1ccccc1C(=O)O", "NS(=O)(=O)c1ccccc1", "FC(F)(F)c1ccccc1"]
CONFIGS = Path(str(resources.files("gentoolkit_molecules") / "configs"))


@pytest.fixture(scope="module")
def prior_path(tmp_path_factory, train_tiny_prior) -> str:
    """A tiny prior trained on small molecules, saved like any prior."""
    torch.set_num_threads(1)
    return str(train_tiny_prior(TRAIN).save(tmp_path_factory.mktemp("prior") / "tiny").with_suffix(""))


@pytest.fixture(scope="module")
def kit() -> Toolkit:
    return Toolkit(plugins=[gentoolkit_molecules], entrypoints=False)


def run(kit, out: Path, config=None, **overrides):
    options = RuntimeOptions(device="cpu", seed=0, out=out, progress=False, threads=1)
    return kit.run("molecules", config, overrides, options)


TINY_RL = {"rl.max_steps": 3, "rl.batch_size": 16, "rl.checkpoint_every": 2}


def test_default_design_writes_every_output(kit, prior_path, tmp_path):
    result = run(kit, tmp_path, prior=prior_path, **TINY_RL)
    with open(tmp_path / "molecules.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    labels = ["drug-likeness", "synthesizability", "mw-200-500", "celecoxib-similarity"]
    assert list(rows[0]) == ["step", "smiles", "score", "reward"] + [f"{l}_{k}" for l in labels
                                                                     for k in ("raw", "score")] + ["reason"]
    assert {r["step"] for r in rows} <= {"1", "2", "3"} and len({r["smiles"] for r in rows}) == len(rows)
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)
    assert all(0.0 <= float(r["drug-likeness_raw"]) <= 1.0 for r in rows)

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["oracle_calls"] == len(rows) == result.metrics["oracle_calls"]
    assert metrics["steps"] == 3 and 0 < metrics["validity"] <= 1 and 0 < metrics["uniqueness"] <= 1
    best = max(float(r["score"]) for r in rows)
    assert metrics["top1_mean"] == pytest.approx(best)
    assert metrics["top1_mean"] >= metrics["top10_mean"] >= metrics["top100_mean"] >= 0
    assert 0 <= metrics["auc_top10"] <= metrics["top10_mean"] + 1e-9 and "pmo_auc_top10" not in metrics
    assert metrics["auc_top10_budget"] == 5000  # the default budget, though only 3 steps ran
    assert metrics["wall_time_s"] > 0

    from rdkit import Chem
    from PIL import Image

    sdf = [m for m in Chem.SDMolSupplier(str(tmp_path / "top.sdf"))]
    assert len(sdf) == min(100, len(rows)) and sdf[0].GetDoubleProp("score") == pytest.approx(best)
    assert Image.open(tmp_path / "top.png").size[0] >= 250
    assert Image.open(tmp_path / "learning_curve.png").size[0] > 300
    assert (tmp_path / "config.toml").exists()
    assert (tmp_path / "checkpoint.json").exists() and (tmp_path / "checkpoint.safetensors").exists()
    agent = Prior.load(tmp_path / "agent")  # the trained agent is a prior like any other
    assert len(agent.sample_sequences(4).smiles) == 4
    loaded = kit.load_model(tmp_path / "agent.json")  # and any plugin loads it through the model contract
    assert loaded.model_card.name == f"prior-{agent.config['kind']}" and loaded.log_prob(["CCO"]).shape == (1,)
    assert result.outputs["best"][0][1] == pytest.approx(best)


def test_run_resumes_in_the_same_folder_without_rescoring(kit, prior_path, tmp_path):
    run(kit, tmp_path, prior=prior_path, **TINY_RL)
    before = (tmp_path / "molecules.csv").read_text()
    again = run(kit, tmp_path, prior=prior_path, **{**TINY_RL, "rl.max_steps": 5})
    after = (tmp_path / "molecules.csv").read_text()
    assert after.startswith(before) and again.metrics["steps"] == 5
    smiles = [r["smiles"] for r in csv.DictReader(after.splitlines())]
    assert len(smiles) == len(set(smiles)) == again.metrics["oracle_calls"]


def test_rl_steps_are_tracked_in_tensorboard_and_mlflow(kit, prior_path, tmp_path):
    from mlflow import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from gentoolkit.tracking import mlflow_store

    store = tmp_path / "mlruns"
    result = run(kit, tmp_path / "run", prior=prior_path, **TINY_RL, **{"tracking.mlflow_uri": str(store)})
    events = EventAccumulator(str(tmp_path / "run")).Reload()
    history = result.outputs["history"][0]
    for tag in ("mean_score", "top10", "loss", "oracle_calls"):
        logged = [(e.step, e.value) for e in events.Scalars(f"rl/{tag}")]
        assert logged == [(h["step"], pytest.approx(h[tag])) for h in history]
    assert all(0 <= e.value <= 1 for e in events.Scalars("rl/top10"))
    assert all(e.value > 0 for e in events.Scalars("rl/molecules_per_s"))

    client = MlflowClient(tracking_uri=mlflow_store(str(store))[0])
    [mlrun] = client.search_runs([client.get_experiment_by_name("molecules").experiment_id])
    assert mlrun.data.params["rl.max_steps"] == "3"
    assert mlrun.data.metrics["top10_mean"] == pytest.approx(result.metrics["top10_mean"])
    assert len(client.get_metric_history(mlrun.info.run_id, "rl/top10")) == 3
    assert {"metrics.json", "top.png", "molecules.csv", "top.sdf"} <= {
        a.path for a in client.list_artifacts(mlrun.info.run_id)}


@pytest.mark.parametrize("name", ["rl", "scoring", "transfer_learning"])
def test_output_grid_0_draws_no_picture_and_still_runs(kit, prior_path, tmp_path, name):
    """The range allows output.grid = 0: no PNG grid, everything else as usual (RDKit cannot draw 0)."""
    config = _tiny(tomllib.loads((CONFIGS / f"{name}.toml").read_text()), prior_path, tmp_path)
    config["output"] = {**config.get("output", {}), "grid": 0}
    result = run(kit, tmp_path / "run", config)
    assert (tmp_path / "run" / "metrics.json").exists() and "grid" not in result.artifacts
    assert not [p for p in (tmp_path / "run").rglob("*.png") if p.name in ("top.png", "samples.png")]


def _tiny(config: dict, prior: str, tmp_path: Path) -> dict:
    """An example config shrunk to seconds: tiny prior, few steps and samples, a small input file."""
    molecules = tmp_path / "input.smi"
    molecules.write_text("\n".join(TRAIN + ["not a smiles"]) + "\n")
    config = {**config, "prior": prior}
    config["rl"] = {**config.get("rl", {}), "max_steps": 2, "batch_size": 16}
    for stage in config.get("stages", []):
        stage["max_steps"] = 2
    config["sample"] = {**config.get("sample", {}), "num_molecules": 20, "reference": str(molecules)}
    config["score"] = {"input": str(molecules)}
    config["transfer_learning"] = {**config.get("transfer_learning", {}), "dataset": str(molecules),
                                   "epochs": 1, "batch_size": 8, "num_samples": 10}
    return config


@pytest.mark.parametrize("name", ["rl", "staged_rl", "sampling", "scoring", "transfer_learning"])
def test_each_example_config_runs(kit, prior_path, tmp_path, name):
    config = tomllib.loads((CONFIGS / f"{name}.toml").read_text())
    result = run(kit, tmp_path / "run", _tiny(config, prior_path, tmp_path))
    out = tmp_path / "run"
    assert (out / "metrics.json").exists() and (out / "config.toml").exists()
    if name == "staged_rl":
        for stage in ("drug-like", "hinge-binder"):
            assert (out / stage / "molecules.csv").exists() and (out / stage / "learning_curve.png").exists()
        assert result.metrics["hinge-binder/steps"] <= 2
    elif name == "sampling":
        assert result.metrics["validity"] > 0.3 and len(result.outputs["smiles"]) == 20
    elif name == "scoring":
        unique = {standardise(s) for s in TRAIN}  # "CC(N)C" and "CC(C)N" are one molecule
        assert result.metrics["molecules"] == len(unique) and result.metrics["invalid_skipped"] == 1
        assert (out / "top.sdf").exists()
    elif name == "transfer_learning":
        assert Prior.load(out / "model").card["molecules"] == len({standardise(s) for s in TRAIN})
        assert result.metrics["validity"] > 0
    else:
        assert result.metrics["steps"] == 2 and (out / "top.png").exists()


def _untouched(out: Path) -> bool:
    """No work started: nothing but the saved config and run.json in the run folder."""
    return not out.exists() or {p.name for p in out.iterdir()} <= {"config.toml", "run.json"}


def test_invalid_reference_smiles_fails_before_any_work(kit, prior_path, tmp_path):
    components = [{"component": "tanimoto_similarity", "params": {"smiles": ["C1CC(N"]}}]
    with pytest.raises(GentoolkitError, match="C1CC\\(N"):
        run(kit, tmp_path, prior=prior_path, **{"scoring.components": components})
    assert _untouched(tmp_path)


def test_invalid_smarts_fails_before_any_work(kit, prior_path, tmp_path):
    components = [{"component": "required_substructures", "params": {"smarts": ["c1ccc[("]}}]
    with pytest.raises(GentoolkitError, match="c1ccc"):
        run(kit, tmp_path, prior=prior_path, **{"scoring.components": components})
    assert _untouched(tmp_path)


def test_unknown_component_is_named_with_a_suggestion(kit, prior_path, tmp_path):
    with pytest.raises(UnknownNameError, match="'qedd'.*Did you mean 'qed'"):
        run(kit, tmp_path, prior=prior_path, **{"scoring.components": [{"component": "qedd"}]})
    assert _untouched(tmp_path)


def test_objective_picks_a_pmo_oracle(kit, prior_path, tmp_path):
    result = run(kit, tmp_path, prior=prior_path, objective="celecoxib_rediscovery", **TINY_RL)
    header = (tmp_path / "molecules.csv").read_text().splitlines()[0]
    assert header == "step,smiles,score,reward,celecoxib_similarity_raw,celecoxib_similarity_score,reason"
    assert 0 < result.metrics["top1_mean"] < 1
    with pytest.raises(UnknownNameError, match="Did you mean 'celecoxib_rediscovery'"):
        run(kit, tmp_path / "x", prior=prior_path, objective="celecoxib_rediscovry")


def test_other_config_errors_are_clear(kit, prior_path, tmp_path):
    with pytest.raises(ConfigError, match="Unknown mode 'optimise'"):
        run(kit, tmp_path / "a", mode="optimise")
    with pytest.raises(ConfigError, match="needs \\[\\[stages\\]\\]"):
        run(kit, tmp_path / "b", mode="staged_rl")
    stage = {"name": "s1", "max_step": 3, "scoring": {"components": [{"component": "qed"}]}}
    with pytest.raises(ConfigError, match="stages.s1.*max_step"):
        run(kit, tmp_path / "c", {"mode": "staged_rl", "stages": [stage]})
    with pytest.raises(ConfigError, match="score.input"):
        run(kit, tmp_path / "d", mode="score")
    with pytest.raises(ConfigError, match="diversity filter type 'Murcko'"):
        run(kit, tmp_path / "e", prior=prior_path, **{"diversity_filter.type": "Murcko"})
    empty = tmp_path / "empty.smi"
    empty.write_text("")
    with pytest.raises(GentoolkitError, match="empty.smi"):
        run(kit, tmp_path / "f", prior=prior_path, mode="transfer_learning",
            **{"transfer_learning.dataset": str(empty)})
    for sub in "abcdef":
        assert _untouched(tmp_path / sub)


def test_hooks_contribute_models_datasets_and_evaluators(kit):
    assert {"prior-lstm", "prior-gru", "prior-transformer", "reinvent-prior", "default-prior"} <= set(kit.models)
    assert {"default", "moses-train", "moses-test"} <= set(kit.datasets)
    prior = kit.create_model("prior-gru", smiles=TRAIN, embedding=16, hidden=32, layers=1)
    assert prior.config["kind"] == "gru" and len(prior.sample_sequences(3).smiles) == 3
    assert kit.evaluate("validity", ["CCO", "C1CC"]) == {"validity": 0.5}
    assert kit.evaluate("novelty", ["CCO", "CCCCCl"], reference=["OCC"]) == {"novelty": 0.5}
    assert kit.evaluate("top-k", [0.1, 0.9, 0.5], k=2) == {"top_2_mean": pytest.approx(0.7)}
    auc = kit.evaluate("pmo-auc", ["CCO", "CCN"], scores=[1.0, 1.0], budget=2, k=1, freq=1)
    assert auc == {"pmo_auc_top_1": pytest.approx(0.75)}  # trapezoids from 0: (0+1)/2 + 1, over 2 calls
    # the plugin declares the scoring-component hook and fills it with the built-ins
    assert "qed" in kit.host.contributions("register_scoring_components", "scoring component")


def test_importing_the_plugin_imports_neither_torch_nor_rdkit():
    import subprocess
    import sys

    code = ("import sys, gentoolkit_molecules as m; print('torch' in sys.modules, 'rdkit' in sys.modules); "
            "m.ScoringComponent, m.ScoringConfigError; print('torch' in sys.modules, 'rdkit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False", "False"]


def test_the_scoring_api_is_public_at_the_top_level():
    from gentoolkit_molecules.scoring.component import ScoringComponent, ScoringConfigError
    from gentoolkit_molecules.scoring.function import ScoreResult, build_scoring_function

    assert gentoolkit_molecules.ScoringComponent is ScoringComponent
    assert gentoolkit_molecules.ScoringConfigError is ScoringConfigError
    assert gentoolkit_molecules.ScoreResult is ScoreResult
    assert gentoolkit_molecules.build_scoring_function is build_scoring_function
    assert set(gentoolkit_molecules.__all__) >= {"ScoringComponent", "ScoringConfigError", "build_scoring_function"}
    with pytest.raises(AttributeError, match="ScoringComponnt"):
        gentoolkit_molecules.ScoringComponnt


class BrokenScoring:
    """A scoring plugin whose hook raises before it registers its component."""

    @gentoolkit_molecules.hookimpl
    def register_scoring_components(self, register):
        raise ImportError("No module named 'vina_free'")


def test_a_scoring_plugin_whose_hook_raises_is_named_when_its_component_is_missing(prior_path, tmp_path):
    from gentoolkit.errors import PluginWarning

    kit = Toolkit(plugins=[gentoolkit_molecules, BrokenScoring()], entrypoints=False)
    with pytest.warns(PluginWarning), pytest.raises(
            UnknownNameError, match="Unknown scoring component 'my_docking'.*Plugin 'BrokenScoring' may provide it "
                                    "but failed: register_scoring_components raised ImportError: No module named"):
        run(kit, tmp_path, prior=prior_path, **{"scoring.components": [{"component": "my_docking"}]})
    assert kit.host.plugins["BrokenScoring"].status == "error"
    assert _untouched(tmp_path)


def test_an_unknown_objective_says_the_built_in_pmo_set_is_partial(kit, tmp_path):
    with pytest.raises(UnknownNameError, match="Unknown objective 'zaleplon_mpo'.*qed.*Only these 5 of PMO's 23 "
                                               "oracles are built in.*scoring component"):
        run(kit, tmp_path, objective="zaleplon_mpo")


def test_multi_fragment_smiles_handling_is_an_option(kit, tmp_path):
    assert standardise("CCO.[Na+].[Cl-]") == "CCO"
    assert standardise("CCO.[Na+].[Cl-]", "keep") == "CCO.[Cl-].[Na+]"
    assert standardise("CCO.[Na+].[Cl-]", "invalid") is None and standardise("CCO", "invalid") == "CCO"
    with pytest.raises(ConfigError, match="fragments = 'biggest' is not one of largest, keep, invalid"):
        run(kit, tmp_path, **{"rl.fragments": "biggest"})


def test_generate_molecules_command_prints_valid_smiles(kit, prior_path, tmp_path):
    from typer.testing import CliRunner

    from gentoolkit.cli import make_app

    args = ["generate", "molecules", "--prior", prior_path, "-n", "12", "--out", str(tmp_path), "--device", "cpu"]
    result = CliRunner().invoke(make_app(kit.host), args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.split()
    assert 0 < len(lines) <= 12 and all(standardise(s) is not None for s in lines)
    assert (tmp_path / "molecules.csv").exists()


def test_bracketed_user_text_is_printed_as_is_and_never_crashes_a_run(cli_main, prior_path, tmp_path):
    molecules = tmp_path / "input.smi"
    molecules.write_text("[/Na]C\nc1cc[nH]c1\nCCO\n")  # '[/Na]' would be a rich closing tag
    code, out, err = cli_main("run", "molecules", "--out", str(tmp_path / "run"), "--set", "mode='score'",
                              "--set", f"prior='{prior_path}'", "--set", f"score.input='{molecules}'")
    assert code == 0 and "Traceback" not in err, err
    assert "1 of 3 molecules in" in err and "the first, at line 1: '[/Na]C' is not a valid SMILES" in err
    code, out, err = cli_main("run", "molecules", "--out", str(tmp_path / "strict"), "--set", "mode='score'",
                              "--set", "strict=true", "--set", f"prior='{prior_path}'", "--set", f"score.input='{molecules}'")
    assert code == 2 and "'[/Na]C' is not a valid SMILES. Fix them, or turn strict off" in err


def test_every_out_of_range_number_is_named_before_any_work(kit, prior_path, tmp_path):
    with pytest.raises(ConfigError) as err:
        run(kit, tmp_path / "a", prior=prior_path, **{"rl.max_oracle_calls": -5, "rl.batch_size": 0,
                                                     "transfer_learning.valid_fraction": 1.5})
    message = str(err.value)
    assert "3 problems" in message and "'rl.max_oracle_calls' must be >= 0, got -5" in message
    assert "'rl.batch_size' must be >= 1, got 0" in message and "'transfer_learning.valid_fraction'" in message
    assert not (tmp_path / "a").exists()
    stage = {"name": "s1", "temperature": 0.0, "scoring": {"components": [{"component": "qed"}]}}
    with pytest.raises(ConfigError, match="'stages.s1.temperature' must be > 0, got 0.0"):
        run(kit, tmp_path / "b", {"mode": "staged_rl", "stages": [stage]}, prior=prior_path)


def test_transfer_learning_reports_skipped_lines_whichever_split_they_land_in(kit, prior_path, tmp_path, capsys):
    from gentoolkit.errors import SkippedInputWarning

    molecules = tmp_path / "train.smi"
    molecules.write_text("\n".join(["CCO", "CCN", "CCCO", "C[Se]C", "not-a-smiles"]) + "\n")  # Se: not in vocabulary
    for seed in range(4):  # each seed puts a different molecule into the one-molecule validation split
        options = RuntimeOptions(device="cpu", seed=seed, out=tmp_path / f"run{seed}", progress=False, threads=1)
        with pytest.warns(SkippedInputWarning, match="1 of 5 molecules .* at line 5: 'not-a-smiles' is not a valid"):
            result = kit.run("molecules", {"mode": "transfer_learning", "prior": prior_path,
                                           "transfer_learning": {"dataset": str(molecules), "epochs": 1,
                                                                 "batch_size": 2, "valid_fraction": 0.3,
                                                                 "num_samples": 4}}, None, options)
        err = " ".join(capsys.readouterr().err.split())
        assert "Left out 1 of 4 molecules: 1 with a token outside the prior's vocabulary (first: 'C[Se]C')" in err
        assert result.metrics["validity"] >= 0


@pytest.fixture
def cli_main(monkeypatch, capsys):
    """``gentoolkit ARGS`` through the real entry point, in this process: (exit code, stdout, stderr)."""
    import sys

    from gentoolkit.cli import main

    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setenv("GENTOOLKIT_LOAD_PLUGINS", "molecules")

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["gentoolkit", *args, "--device", "cpu", "--threads", "1", "--no-progress"])
        with pytest.raises(SystemExit) as exit_:
            main()
        out, err = capsys.readouterr()
        return exit_.value.code, out, " ".join(err.split())

    return run


def test_metrics_json_says_why_a_metric_is_missing_instead_of_writing_nan(kit, prior_path, tmp_path):
    options = RuntimeOptions(device="cpu", seed=0, out=tmp_path / "run", progress=False, threads=1)
    molecules = tmp_path / "train.smi"
    molecules.write_text("\n".join(TRAIN) + "\n")
    kit.run("molecules", {"mode": "transfer_learning", "prior": prior_path,
                          "transfer_learning": {"dataset": str(molecules), "epochs": 1, "batch_size": 8,
                                                "valid_fraction": 0.0, "num_samples": 4}}, None, options)
    text = (tmp_path / "run" / "metrics.json").read_text()
    metrics = json.loads(text)
    assert "NaN" not in text and metrics["valid_nll"] is None and metrics["train_nll"] > 0
    assert metrics["null"] == {"valid_nll": "no validation split (transfer_learning.valid_fraction = 0)"}
