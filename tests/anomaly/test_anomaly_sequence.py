"""The sequence detector: unusual SMILES by the molecules prior and unusual texts by a causal LM,
reached through the registry and the core's TokenDensity protocol (total and per-token NLL, the
likelihood ratio against the shipped prior), saving, surprising tokens and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from gentoolkit import ConfigError, GentoolkitError
from gentoolkit_anomaly.sequence import SequenceDetector

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def seq_kit():
    import gentoolkit_anomaly
    import gentoolkit_image
    import gentoolkit_molecules
    import gentoolkit_text
    from gentoolkit import Toolkit
    from gentoolkit.plugins import PluginHost

    host = PluginHost()
    for module, name in ((gentoolkit_anomaly, "anomaly"), (gentoolkit_molecules, "molecules"),
                         (gentoolkit_text, "text"), (gentoolkit_image, "image")):
        host.register(module, name=name)
    return Toolkit(host=host)


@pytest.fixture(scope="module")
def series():
    """A chemical series, the sulfonamides (S(=O)(=O)N) of the molecules plugin's embedded set: 100 to
    fit on; 100 more held out and 100 molecules of the same set without the group, to score."""
    inside = (DATA / "sulfonamides.smi").read_text().split()
    outside = (DATA / "others.smi").read_text().split()
    return inside[:100], inside[100:200] + outside[:100], np.array([0] * 100 + [1] * 100)


@pytest.fixture(scope="module")
def fitted(seq_kit, series):
    return SequenceDetector(score="ratio", epochs=2, batch_size=32, toolkit=seq_kit).fit(series[0])


def test_ratio_against_the_shipped_prior_flags_a_held_out_series(seq_kit, fitted, series):
    _, test, labels = series
    ratio = fitted.decision_function(test)
    expected = (-fitted.model_.log_prob(test) + fitted.background_.log_prob(test)).double().numpy()
    np.testing.assert_allclose(ratio, expected, rtol=1e-4, atol=1e-3)
    shipped = seq_kit.create_model("default-prior")  # the background is the prior as shipped
    torch.testing.assert_close(fitted.background_.log_prob(test[:8]), shipped.log_prob(test[:8]))
    raw = -fitted.model_.log_prob(test).double().numpy()
    assert roc_auc_score(labels, ratio) > 0.75 > roc_auc_score(labels, raw)  # measured 0.84 vs 0.63


def test_per_token_scores_total_mean_and_surprising_tokens(seq_kit, fitted, series):
    normal, test, _ = series
    tokens = seq_kit.create_model("default-prior").token_log_probs(test[:5])
    totals = np.array([-v.sum().item() for _, v in tokens])
    for score, expected in (("nll", totals), ("token-nll", totals / [len(words) for words, _ in tokens])):
        detector = SequenceDetector(score=score, epochs=0, toolkit=seq_kit).fit(normal[:20])  # the shipped prior
        np.testing.assert_allclose(detector.decision_function(test[:5]), expected, rtol=1e-5)
    shown = fitted.surprising_tokens(test[:5], top=2)
    for (words, values), top in zip(fitted.token_scores(test[:5]), shown):
        assert [w for _, w, _ in top] == [words[i] for i, _, _ in top] and len(top) == 2
        assert top[0][2] == pytest.approx(values.max()) and top[0][2] >= top[1][2]


def test_save_load_and_the_cli_scores_a_smiles_file(seq_kit, fitted, series, tmp_path):
    from typer.testing import CliRunner

    from gentoolkit.cli import make_app

    _, test, _ = series
    folder = seq_kit.save_model(fitted, tmp_path / "sequence")
    loaded = seq_kit.load_model(folder)
    assert isinstance(loaded, SequenceDetector) and loaded.threshold_ == fitted.threshold_
    np.testing.assert_allclose(loaded.decision_function(test[:10]), fitted.decision_function(test[:10]), rtol=1e-5, atol=1e-4)
    (tmp_path / "new.smi").write_text("\n".join(f"{s} mol{i}" for i, s in enumerate(test[95:105])) + "\n")
    result = CliRunner().invoke(make_app(seq_kit.host), ["anomaly", "score", str(tmp_path / "new.smi"), "--model",
                                                         str(folder), "--out", str(tmp_path / "scores.csv")])
    assert result.exit_code == 0, result.output
    rows = (tmp_path / "scores.csv").read_text().splitlines()
    # the ratio is a difference of two ~20-nat float32 NLLs, so it agrees to about 1e-5 nats, not to a relative 1e-4
    assert len(rows) == 11 and float(rows[1].split(",")[1]) == pytest.approx(fitted.decision_function(test[95:96])[0],
                                                                             abs=1e-4)


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A saved 1-layer GPT-2 (untrained, BPE of 300 tokens) and the pydoc lines (20-50 characters) its
    tokenizer learnt from; 20 strings of random letters, digits and signs as anomalies."""
    from gentoolkit_text.data import pydoc_topics
    from gentoolkit_text.lm import CausalLM
    from gentoolkit_text.model import gpt2
    from gentoolkit_text.tokenizer import train_bpe

    lines = [line.strip() for text in pydoc_topics()[:20] for line in text.splitlines() if 20 < len(line.strip()) < 50]
    tokenizer = train_bpe(lines, vocab_size=300)
    torch.manual_seed(0)
    model = gpt2(len(tokenizer), n_positions=64, n_layer=1, n_head=2, n_embd=32,
                 eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    folder = CausalLM(model, tokenizer).save(tmp_path_factory.mktemp("lm") / "lm")
    rng = np.random.default_rng(0)
    return folder, lines, ["".join(rng.choice(list("qxzjkvw0123!?#"), 30)) for _ in range(20)]


def test_a_causal_lm_scores_unusual_text(seq_kit, tiny_lm):
    folder, lines, noise = tiny_lm
    detector = SequenceDetector(model="hf-local", params={"path": str(folder), "lr": 3e-3}, score="token-ratio",
                                epochs=2, batch_size=16, toolkit=seq_kit).fit(lines[:120])
    scores = detector.decision_function(lines[120:160] + noise)
    assert roc_auc_score([0] * 40 + [1] * 20, scores) > 0.9
    assert detector.model_.log_prob(lines[120:130]).mean() > detector.background_.log_prob(lines[120:130]).mean()


def test_bad_scores_models_and_items(seq_kit, fitted, series):
    normal = series[0][:8]
    with pytest.raises(ConfigError, match="score must be one of nll, token-nll, ratio, token-ratio"):
        SequenceDetector(score="typicality", epochs=0, toolkit=seq_kit).fit(normal)
    with pytest.raises(ConfigError, match="give epochs >= 1 with a registered model"):
        SequenceDetector(score="ratio", epochs=0, toolkit=seq_kit).fit(normal)
    with pytest.raises(GentoolkitError, match="empty"):
        fitted.decision_function([])
    with pytest.raises(GentoolkitError, match="non-empty smiles strings"):
        fitted.decision_function(["CCO", 3])
    with pytest.raises(GentoolkitError, match=r"Token '\[Se\]'.*not in the prior's vocabulary"):
        fitted.decision_function(["CC[Se]C"])
    with pytest.raises(GentoolkitError, match="not fitted yet"):
        SequenceDetector(toolkit=seq_kit).surprising_tokens(["CCO"])


def run_anomaly(kit, tmp_path, **overrides):
    from gentoolkit import RuntimeOptions

    return kit.run("anomaly", overrides=overrides,
                   options=RuntimeOptions(device="cpu", out=tmp_path / "run", progress=False, threads=1))


def spy_on_fits(monkeypatch) -> list[int]:
    """The number of items of each model training the anomaly plugin starts (its one call into the core's fit)."""
    from gentoolkit_anomaly import generative

    calls, real = [], generative.train
    monkeypatch.setattr(generative, "train", lambda model, items, *args: calls.append(len(items)) or real(model, items,
                                                                                                         *args))
    return calls


def test_detectors_inside_shared_fits_fine_tune_the_prior_once(seq_kit, series, monkeypatch):
    from gentoolkit_anomaly.generative import shared_fits

    normal, test, _ = series
    calls = spy_on_fits(monkeypatch)
    make = lambda score, seed=0: SequenceDetector(score=score, epochs=1, batch_size=32, seed=seed,  # noqa: E731
                                                  toolkit=seq_kit)
    with shared_fits():
        nll, ratio, reseeded = make("nll").fit(normal[:40]), make("token-ratio").fit(normal[:40]), make("nll", 1)
        reseeded.fit(normal[:40])
        other_items = make("nll").fit(normal[:30])
    assert calls == [40, 40, 30]  # nll and token-ratio share one fine-tune; another seed or other items do not
    assert ratio.model_ is nll.model_ and reseeded.model_ is not nll.model_ is not other_items.model_
    alone = make("nll").fit(normal[:40])  # outside the context: a fit of its own, to the same weights
    assert len(calls) == 4 and alone.model_ is not nll.model_
    np.testing.assert_allclose(alone.decision_function(test[:10]), nll.decision_function(test[:10]), rtol=1e-6)
    expected = nll.decision_function(test[:10]) + ratio.background_.log_prob(test[:10]).double().numpy()
    lengths = [len(tokens) for tokens, _ in ratio.token_scores(test[:10])]
    np.testing.assert_allclose(ratio.decision_function(test[:10]), expected / lengths, rtol=1e-4, atol=1e-5)


def test_run_anomaly_on_a_smiles_file_and_a_file_of_anomalies(seq_kit, series, tmp_path, monkeypatch, capsys):
    import csv
    import json

    calls = spy_on_fits(monkeypatch)
    normal, test, _ = series
    (tmp_path / "series.smi").write_text("\n".join(f"{s}\tcpd{i}" for i, s in enumerate(normal[:80])) + "\n")
    (tmp_path / "others.smi").write_text("\n\n".join(test[100:140]) + "\n")
    result = run_anomaly(seq_kit, tmp_path, data=str(tmp_path / "series.smi"), anomalies=str(tmp_path / "others.smi"))
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["protocol"]["train_items"] == 40 and saved["protocol"]["test_items"] == 80
    assert list(saved["mean"]) == ["prior NLL", "prior NLL/token", "likelihood ratio", "fingerprint OC-SVM"]
    assert calls == [40]  # the three prior columns share one fine-tuned prior
    header = next(line for line in capsys.readouterr().err.splitlines() if "likelihood" in line)
    assert "fingerprint" in header  # the printed table has the classical column beside the prior's
    order = np.random.default_rng(0).permutation(80)  # the run's split: split_seed 0, test_size 0.5
    fit, x_test = [normal[i] for i in order[40:]], [normal[i] for i in order[:40]] + test[100:140]
    expected = seq_kit.create_model("anomaly-fingerprint").fit(fit).decision_function(x_test)
    assert saved["mean"]["fingerprint OC-SVM"]["auroc"] == pytest.approx(roc_auc_score([0] * 40 + [1] * 40, expected))
    saved_detector = seq_kit.load_model(result.artifacts["detector_fingerprint OC-SVM"])
    np.testing.assert_array_equal(saved_detector.decision_function(x_test), expected)
    assert saved["mean"]["likelihood ratio"]["auroc"] > 0.7
    rows = list(csv.DictReader((tmp_path / "run" / "extremes.csv").open()))
    assert len(rows) == 32 and all(row["item"] in normal + test for row in rows)
    most = rows[0]["surprising_tokens"].split(", ")
    assert len(most) == 3 and all("@" in token for token in most)
    assert result.metrics["likelihood_ratio_auroc"] == saved["mean"]["likelihood ratio"]["auroc"]


def test_run_anomaly_on_a_text_file_scores_with_the_text_lm(seq_kit, tiny_lm, tmp_path, monkeypatch):
    """The text path of `gentoolkit run anomaly` end to end: a .txt of normal lines and one of anomalies, the
    causal LM fine-tuned once for its perplexity and ratio columns, the table of surprising tokens, a saved
    detector that scores as in the run."""
    import csv
    import json

    folder, lines, noise = tiny_lm
    (tmp_path / "normal.txt").write_text("\n".join(lines[:160]) + "\n")
    (tmp_path / "odd.txt").write_text("\n".join(noise) + "\n")
    lm = {"model": "hf-local", "params": {"path": str(folder), "lr": 3e-3}, "epochs": 2, "batch_size": 16}
    detectors = [{"name": "anomaly-sequence", "label": "perplexity", "params": {**lm, "score": "token-nll"}},
                 {"name": "anomaly-sequence", "label": "ratio/token", "params": {**lm, "score": "token-ratio"}}]
    calls = spy_on_fits(monkeypatch)
    result = run_anomaly(seq_kit, tmp_path, data=str(tmp_path / "normal.txt"), anomalies=str(tmp_path / "odd.txt"),
                         detectors=detectors, test_size=0.25)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert calls == [120]  # 160 lines, 40 held out; both columns share one fine-tuned LM
    assert saved["protocol"]["test_items"] == 60 and list(saved["mean"]) == ["perplexity", "ratio/token"]
    assert min(row["auroc"] for row in saved["mean"].values()) > 0.9
    rows = list(csv.DictReader((tmp_path / "run" / "extremes.csv").open()))
    assert len(rows) == 32 and all(row["item"] in lines + noise and row["surprising_tokens"] for row in rows)
    assert rows[0]["anomaly"] == "1" and rows[0]["surprising_tokens"].count("@") == 3  # noise has no @ of its own
    loaded = seq_kit.load_model(result.artifacts["detector_perplexity"])
    scores = loaded.decision_function(lines[:3] + noise[:3])
    assert scores[3:].min() > scores[:3].max()


def test_run_anomaly_on_text_files_prints_the_lm_and_tfidf_columns(seq_kit, tiny_lm, tmp_path, capsys):
    """With text_model, a text run's default detectors are the saved LM's perplexity (as it is) and TF-IDF."""
    import json

    folder, lines, noise = tiny_lm
    test, labels = lines[120:160] + noise, [0] * 40 + [1] * 20
    (tmp_path / "normal.txt").write_text("\n".join(lines[:120]) + "\n")
    (tmp_path / "test.txt").write_text("\n".join(f"{item}\t{y}" for item, y in zip(test, labels)) + "\n")
    run_anomaly(seq_kit, tmp_path, data=str(tmp_path / "normal.txt"), test_data=str(tmp_path / "test.txt"),
                text_model=str(folder))
    printed = capsys.readouterr().err
    assert "LM perplexity" in printed and "TF-IDF" in printed and "give text_model" not in printed
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())["mean"]
    assert list(saved) == ["LM perplexity", "TF-IDF"]
    lm = SequenceDetector(model="hf-local", params={"path": str(folder)}, score="token-nll", epochs=0, toolkit=seq_kit)
    assert saved["LM perplexity"]["auroc"] == pytest.approx(roc_auc_score(labels, lm.fit(lines[:120])
                                                                          .decision_function(test)))
    tfidf = seq_kit.create_model("anomaly-tfidf").fit(lines[:120])
    expected = roc_auc_score(labels, tfidf.decision_function(test))
    assert saved["TF-IDF"]["auroc"] == pytest.approx(expected) and expected > 0.9


def test_run_anomaly_on_a_labelled_test_file(seq_kit, series, tmp_path):
    import json

    normal, test, labels = series
    (tmp_path / "normal.smi").write_text("\n".join(normal[:40]) + "\n")
    (tmp_path / "test.smi").write_text("\n".join(f"{s} mol{i} {y}" for i, (s, y) in enumerate(zip(test, labels))))
    detectors = [{"name": "anomaly-sequence", "label": "shipped prior", "params": {"score": "token-nll", "epochs": 0}}]
    run_anomaly(seq_kit, tmp_path, data=str(tmp_path / "normal.smi"), test_data=str(tmp_path / "test.smi"),
                detectors=detectors)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["protocol"]["train_items"] == 40 and saved["protocol"]["test_items"] == 200
    expected = SequenceDetector(score="token-nll", epochs=0, toolkit=seq_kit).fit(normal[:40]).decision_function(test)
    assert saved["mean"]["shipped prior"]["auroc"] == pytest.approx(roc_auc_score(labels, expected))


def test_bad_smiles_and_text_files(seq_kit, series, tmp_path):
    from gentoolkit_anomaly.data import read_strings

    (tmp_path / "empty.smi").write_text("\n  \n")
    with pytest.raises(GentoolkitError, match=r"empty.smi is empty: it holds no SMILES"):
        read_strings(tmp_path / "empty.smi")
    (tmp_path / "bad.smi").write_text("CCO ethanol\n\nc1ccccc1\nC1CC(\n")
    with pytest.raises(GentoolkitError, match=r"bad.smi, line 4: 'C1CC\(' is not a valid SMILES"):
        read_strings(tmp_path / "bad.smi")
    (tmp_path / "unlabelled.smi").write_text("CCO 0\nCCN\n")
    with pytest.raises(GentoolkitError, match=r"unlabelled.smi, line 2: a labelled file has the item, whitespace"):
        read_strings(tmp_path / "unlabelled.smi", labelled=True)
    (tmp_path / "texts.txt").write_text("a normal line\t0\nanother one\t0\n")
    with pytest.raises(GentoolkitError, match="labels are all 0"):
        read_strings(tmp_path / "texts.txt", labelled=True)
    assert read_strings(tmp_path / "texts.txt") == (["a normal line\t0", "another one\t0"], None)
    (tmp_path / "normal.smi").write_text("CCO\nCCN\n")
    with pytest.raises(GentoolkitError, match="give either anomalies .* or test_data"):
        run_anomaly(seq_kit, tmp_path, data=str(tmp_path / "normal.smi"))
    with pytest.raises(GentoolkitError, match="text_model sets the default detectors of a text"):
        run_anomaly(seq_kit, tmp_path, data=str(tmp_path / "normal.smi"), anomalies=str(tmp_path / "normal.smi"),
                    text_model="my-lm")


def test_the_extremes_table_prints_bracket_atoms():
    from rich.console import Console

    from gentoolkit_anomaly.task import extremes_table

    items = ["c1cc[nH]c1", "CCO"]
    tokens = [[(4, "[nH]", 3.5)], [(2, "O", 1.0)]]
    console = Console(record=True, width=200)
    console.print(extremes_table(items, np.array([2.0, 1.0]), np.array([True, False]), tokens, "t", n=1))
    text = console.export_text()
    assert "c1cc[nH]c1" in text and "[nH]@4 3.50" in text and "O@2 1.00" in text
