"""The ``text`` task end to end with tiny settings, its commands, and the plugin's registrations."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import gentoolkit_text
from gentoolkit import Toolkit
from gentoolkit.errors import ConfigError
from gentoolkit.runtime import RuntimeOptions

TINY = {"data.holdout": 0.2, "tokenizer.vocab_size": 300, "model.n_layer": 1, "model.n_embd": 32,
        "model.n_head": 2, "model.n_positions": 32, "train.block_size": 32, "train.stride": 32,
        "train.steps": 6, "train.batch_size": 4, "train.eval_every": 3, "train.checkpoint_every": 0,
        "generate.prompts": ["", "The "], "generate.samples_per_prompt": 2, "generate.max_new_tokens": 8,
        "generate.min_new_tokens": 8}


@pytest.fixture(scope="module")
def kit() -> Toolkit:
    return Toolkit(plugins=[gentoolkit_text], entrypoints=False)


@pytest.fixture
def docs(tmp_path):
    from gentoolkit_text.data import pydoc_topics

    folder = tmp_path / "docs"
    folder.mkdir()
    for i, text in enumerate(pydoc_topics()[:6]):
        (folder / f"{i}.txt").write_text(text)
    return folder


def options(out):
    return RuntimeOptions(device="cpu", seed=0, out=out, progress=False)


def test_importing_the_plugin_loads_no_torch():
    code = "import sys, gentoolkit_text; print('torch' in sys.modules or 'transformers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_registrations(kit):
    assert {"gpt2", "hf-local"} <= set(kit.models.names())
    assert {"text-files", "jsonl", "pydoc-topics"} <= set(kit.datasets.names())
    assert {"perplexity", "distinct", "self-bleu", "repetition"} <= set(kit.evaluators.names())
    assert kit.evaluate("distinct", ["a a b"])["distinct_1"] == pytest.approx(2 / 3)
    assert len(kit.load_dataset("pydoc-topics")) > 50


def test_task_trains_saves_samples_and_reloads(kit, docs, tmp_path):
    from transformers import AutoModelForCausalLM

    result = kit.run("text", overrides={**TINY, "data.dataset": "text-files", "data.path": str(docs)},
                     options=options(tmp_path / "run"))
    out = tmp_path / "run"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == pytest.approx(result.metrics)
    for key in ("heldout_perplexity", "baseline_unigram_perplexity", "baseline_bigram_perplexity",
                "distinct_1", "distinct_2", "self_bleu", "repetition_4", "train_tokens_per_second"):
        assert key in metrics and metrics[key] >= 0
    assert 1 < metrics["heldout_perplexity"] < 300  # a 300-token vocabulary: below uniform
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [s["prompt"] for s in samples] == ["", "", "The ", "The "]
    assert (out / "learning_curve.png").stat().st_size > 1000 and (out / "config.toml").exists()
    AutoModelForCausalLM.from_pretrained(out / "model", local_files_only=True)

    # The saved model generates again through `model.path`, without training or data.
    again = kit.run("text", overrides={**TINY, "model.path": str(out / "model"), "train.steps": 0,
                                       "evaluate.perplexity": False}, options=options(tmp_path / "gen"))
    assert again.outputs["samples"] == result.outputs["samples"]
    assert "heldout_perplexity" not in again.metrics and not (tmp_path / "gen" / "model").exists()


def test_restarting_a_finished_run_reports_it_or_trains_on_when_steps_grow(kit, docs, tmp_path, capsys):
    from gentoolkit.checkpoint import read_metadata

    tiny, out = {**TINY, "data.dataset": "text-files", "data.path": str(docs)}, tmp_path / "run"
    first = kit.run("text", overrides=tiny, options=options(out))
    history = read_metadata(out / "checkpoint")["history"]
    capsys.readouterr()

    again = kit.run("text", overrides=tiny, options=options(out))  # the same --out: nothing left to train
    assert "already finished its 6 steps" in capsys.readouterr().err
    assert read_metadata(out / "checkpoint")["history"] == history
    assert again.outputs["samples"] == first.outputs["samples"]  # the trained weights, not fresh ones
    assert again.metrics["heldout_perplexity"] == pytest.approx(first.metrics["heldout_perplexity"])
    assert "train_tokens_per_second" not in again.metrics  # no speed is claimed for zero steps

    kit.run("text", overrides={**tiny, "train.steps": 9}, options=options(out))  # a larger budget continues
    longer = read_metadata(out / "checkpoint")["history"]
    assert [h["step"] for h in longer] == list(range(1, 10)) and longer[:6] == history
    assert "Resuming from" in capsys.readouterr().err


def test_perplexity_evaluator_reads_a_saved_model(kit, tmp_path, tiny_model, tokenizer):
    tiny_model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    texts = ["The for statement is used to iterate. " * 20]
    got = kit.evaluate("perplexity", texts, model=str(tmp_path / "m"))
    assert got["tokens"] > 32 and got["perplexity"] > 1
    assert kit.evaluate("perplexity", texts, model=tiny_model, tokenizer=tokenizer) == pytest.approx(got)
    with pytest.raises(Exception, match="pass tokenizer="):
        kit.evaluate("perplexity", ["text"], model=tiny_model)


def test_bad_inputs_are_clear_errors(kit, tmp_path):
    with pytest.raises(ConfigError, match="set data.path"):
        kit.run("text", overrides={"data.dataset": "jsonl"}, options=options(tmp_path / "a"))
    with pytest.raises(Exception, match="No model folder at .*missing"):
        kit.run("text", overrides={"model.path": str(tmp_path / "missing"), "train.steps": 0},
                options=options(tmp_path / "b"))


def test_generate_command_streams_from_the_newest_trained_model(kit, tmp_path, tiny_model, tokenizer, monkeypatch):
    from typer.testing import CliRunner

    from gentoolkit.cli import make_app
    from gentoolkit_text.model import ModelPathError

    monkeypatch.chdir(tmp_path)
    app = make_app(kit.host)
    args = ["generate", "text", "--prompt", "The for", "--max-new-tokens", "5", "--temperature", "0",
            "--device", "cpu", "--out", "g"]
    none_yet = CliRunner().invoke(app, args)
    assert "No trained text model under runs/text" in str(none_yet.exception)

    tiny_model.save_pretrained(tmp_path / "runs/text/r1/model")
    tokenizer.save_pretrained(tmp_path / "runs/text/r1/model")
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    sample = json.loads((tmp_path / "g" / "samples.jsonl").read_text())
    assert ("The for" + sample["text"]) in done.output

    missing = CliRunner().invoke(app, args + ["--model", "nope"])
    assert isinstance(missing.exception, ModelPathError) and "No model folder at nope" in str(missing.exception)


def test_training_logs_loss_lr_and_speed_to_tensorboard_and_mlflow(kit, tmp_path):
    from mlflow import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from gentoolkit.tracking import mlflow_store

    store = tmp_path / "mlruns"
    result = kit.run("text", overrides={**TINY, "tracking.mlflow_uri": str(store)}, options=options(tmp_path / "run"))
    events = EventAccumulator(str(tmp_path / "run")).Reload()
    loss = [(e.step, e.value) for e in events.Scalars("train/loss")]
    assert [s for s, _ in loss] == list(range(1, 7)) and all(1 < v < 10 for _, v in loss)  # ln(300) = 5.7
    assert [e.value for e in events.Scalars("train/lr")][:2] == pytest.approx([1e-3 / 20, 2e-3 / 20])
    assert [e.step for e in events.Scalars("val/loss")] == [3, 6]
    assert all(e.value > 0 for e in events.Scalars("train/tokens_per_s"))
    assert events.Scalars("heldout_perplexity")[0].value == pytest.approx(result.metrics["heldout_perplexity"])

    client = MlflowClient(tracking_uri=mlflow_store(str(store))[0])
    [run] = client.search_runs([client.get_experiment_by_name("text").experiment_id])
    assert run.data.params["train.steps"] == "6" and run.data.metrics["train/loss"] == pytest.approx(loss[-1][1])
    assert len(client.get_metric_history(run.info.run_id, "train/loss")) == 6
    assert {"metrics.json", "samples.jsonl", "learning_curve.png", "config.toml"} <= {
        a.path for a in client.list_artifacts(run.info.run_id)}
