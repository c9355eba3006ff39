"""The TF-IDF detector for texts: scikit-learn's TF-IDF and PCA behind the detector contract, in a
Pipeline, saved and loaded without pickle, in `gentoolkit run anomaly` on .txt files, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from gentoolkit import GentoolkitError, RuntimeOptions
from gentoolkit.cli import make_app
from gentoolkit_anomaly.errors import NotFittedError
from gentoolkit_anomaly.tfidf import TfidfDetector


@pytest.fixture(scope="module")
def texts():
    """Lines of CPython's pydoc topics (40-120 characters): 200 to fit on, 100 others held out; 100 lines of
    scikit-learn's dataset descriptions as anomalies (both ship with installed packages)."""
    import sklearn
    from gentoolkit_text.data import pydoc_topics

    keep = lambda text: [line.strip() for line in text.splitlines() if 40 < len(line.strip()) < 120]  # noqa: E731
    normal = [line for topic in pydoc_topics()[:40] for line in keep(topic)]
    descriptions = sorted((Path(sklearn.__file__).parent / "datasets" / "descr").glob("*.rst"))
    other = [line for path in descriptions for line in keep(path.read_text())]
    return normal[:200], normal[-100:] + other[:100], np.array([0] * 100 + [1] * 100)


@pytest.fixture(scope="module")
def fitted(texts):
    return TfidfDetector().fit(texts[0])


def test_flags_other_text_with_scikit_learns_tfidf(fitted, texts):
    from sklearn.feature_extraction.text import TfidfVectorizer

    train, test, labels = texts
    scores = fitted.decision_function(test)
    assert roc_auc_score(labels, scores) > 0.9  # measured 0.94
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True).fit(train)
    assert fitted.counter_.vocabulary_ == vectorizer.vocabulary_
    np.testing.assert_allclose(fitted.weigher_.idf_[:-1], vectorizer.idf_)  # the last column: unseen n-grams
    np.testing.assert_array_equal(fitted.score_samples(test), -scores)
    assert fitted.threshold_ == pytest.approx(np.quantile(fitted.decision_function(train), 0.9))
    assert fitted.predict(test).tolist() == (scores > fitted.threshold_).astype(int).tolist()


def test_a_text_of_unseen_ngrams_is_anomalous_not_an_empty_typical_vector(fitted, texts):
    """Plain TF-IDF + PCA maps a text of n-grams it never saw (Greek here) to the zero vector, near the mean of
    the normal texts: it scores below every normal text. The unseen n-grams' column lies outside the subspace."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from gentoolkit_anomaly.classical import PCADetector

    unseen = ["qxzj kvwq 0x3!? zzqj", "ΣΦΩ λμν ξπρ στυ φχψ", "#### ____ ~~~~ ||||"]
    normal = texts[1][:100]
    assert fitted.decision_function(unseen).min() > fitted.decision_function(normal).max()
    assert fitted.predict(unseen).tolist() == [1, 1, 1]
    plain = make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True),
                          FunctionTransformer(lambda x: x.toarray(), accept_sparse=True), PCADetector()).fit(texts[0])
    assert plain.decision_function(unseen[1:2])[0] < plain.decision_function(normal).min()  # measured 0.07 < 0.09


def test_in_a_pipeline_and_clone(fitted, texts):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    train, test, _ = texts
    lower = FunctionTransformer(lambda items: [item.lower() for item in items])
    pipeline = make_pipeline(lower, TfidfDetector(lowercase=False)).fit(train)
    np.testing.assert_allclose(pipeline.decision_function(test), fitted.decision_function(test), atol=1e-12)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "threshold_")


def test_save_load_and_the_cli_give_identical_scores(kit, texts, tmp_path):
    train, test, _ = texts
    detector = kit.create_model("anomaly-tfidf", ngram_range=[2, 3], n_components=0.8).fit(train)
    folder = kit.save_model(detector, tmp_path / "tfidf")
    assert not list(folder.rglob("*.pkl")) and (folder / "detector.safetensors").is_file()
    loaded = kit.load_model(folder)
    assert isinstance(loaded, TfidfDetector) and loaded.ngram_range == [2, 3]
    np.testing.assert_array_equal(loaded.decision_function(test), detector.decision_function(test))
    assert loaded.threshold_ == detector.threshold_
    (tmp_path / "new.txt").write_text("\n".join(test[95:105]) + "\n")
    result = CliRunner().invoke(make_app(kit.host), ["anomaly", "score", str(tmp_path / "new.txt"), "--model",
                                                     str(folder), "--out", str(tmp_path / "scores.csv")])
    assert result.exit_code == 0, result.output
    rows = [row.split(",") for row in (tmp_path / "scores.csv").read_text().splitlines()[1:]]
    np.testing.assert_allclose([float(row[1]) for row in rows], detector.decision_function(test[95:105]), rtol=1e-12)


def test_bad_input_is_a_clear_error(fitted, texts):
    with pytest.raises(GentoolkitError, match="X is empty: there are no text strings"):
        TfidfDetector().fit([])
    with pytest.raises(GentoolkitError, match=r"X is an array of numbers, shape \(3, 4\): this detector scores text"):
        fitted.decision_function(np.zeros((3, 4)))
    with pytest.raises(GentoolkitError, match=r"item\(s\) \[1\] are not \(item 1 is 3, a int\)"):
        fitted.decision_function(["a text", 3])
    with pytest.raises(GentoolkitError, match="X must be a list of text strings, got str"):
        fitted.decision_function("one text, not a list")
    with pytest.raises(GentoolkitError, match=r"TF-IDF could not be fitted on X \(2 text\(s\)\).*min_df"):
        TfidfDetector().fit(["abc", "xyz"])  # no n-gram is in two texts
    with pytest.raises(GentoolkitError, match="analyzer must be one of char_wb, char, word"):
        TfidfDetector(analyzer="letters").fit(texts[0])
    with pytest.raises(NotFittedError):
        TfidfDetector().decision_function(["a text"])


def test_run_anomaly_on_text_files_without_a_language_model(kit, texts, tmp_path, capsys):
    train, test, _ = texts
    (tmp_path / "normal.txt").write_text("\n".join(train + test[:100]) + "\n")
    (tmp_path / "odd.txt").write_text("\n".join(test[100:]) + "\n")
    files = {"data": str(tmp_path / "normal.txt"), "anomalies": str(tmp_path / "odd.txt")}
    result = kit.run("anomaly", overrides=files,
                     options=RuntimeOptions(device="cpu", out=tmp_path / "run", progress=False, threads=1))
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert list(saved["mean"]) == ["TF-IDF"] and saved["mean"]["TF-IDF"]["auroc"] > 0.9
    printed = capsys.readouterr().err
    assert "give text_model" in printed and "surprising tokens" not in printed  # TF-IDF names no tokens
    assert result.metrics["tf_idf_auroc"] == saved["mean"]["TF-IDF"]["auroc"]
