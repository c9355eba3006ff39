"""Unusual text by the text LM (perplexity, NLL, likelihood ratio) beside TF-IDF baselines, in one run.

    nice -n 10 python bench/anomaly_text.py            # the LM 800 steps (the text task's default), background 400
    nice -n 10 python bench/anomaly_text.py --quick    # 40 and 20 steps (a smoke run)

Normal text is CPython's pydoc topics (the registry's ``pydoc-topics``), split by topic with seed 0:
60 % of the topics train the models and the rest are held out. ``gentoolkit run text`` trains a
GPT-2 on the training topics, and a one-layer background GPT-2 with the same tokenizer. The
anomalies are English technical text from two corpora that installed packages ship: scikit-learn's
dataset descriptions (``sklearn/datasets/descr/*.rst``) and the licence texts in site-packages'
``*.dist-info`` folders. An item is a prose paragraph of 100-300 characters, at least 85 % letters and
spaces, so that code, tables and lists of names in either corpus do not give it away; each paragraph
counts once. ``anomaly-sequence`` scores the held-out and anomalous paragraphs with the LM through the
registry: NLL, NLL per token (its exp is the perplexity) and the likelihood ratio against the
background (total and per token). The baselines are fitted on the same training paragraphs:
scikit-learn Pipelines of TF-IDF (words, or character n-grams) and the plugin's PCA, OC-SVM and
Isolation Forest, 1 - the largest cosine similarity to a training paragraph, and the registered
``anomaly-tfidf`` (what a text run of ``gentoolkit run anomaly`` puts beside the LM).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section  # noqa: E402

OUT = Path("runs/bench/anomaly_text")
# the text task's default GPT-2 with 256 positions: a paragraph of licence text is up to 240 tokens
LM = {"n_layer": 2, "n_head": 4, "n_embd": 128, "n_positions": 256}
BACKGROUND = {"n_layer": 1, "n_head": 2, "n_embd": 32, "n_positions": 256}
N_LICENCES = 200  # licence paragraphs drawn (of about 530), so neither corpus swamps the other
LM_SCORES = {"LM NLL": ("nll", False), "LM NLL/token (log perplexity)": ("token-nll", False),
             "likelihood ratio": ("ratio", True), "ratio/token": ("token-ratio", True),
             "background NLL/token": ("token-nll", None)}  # (score, against the background); None: the background


def paragraphs(text: str) -> list[str]:
    """The prose paragraphs of ``text``: 100-300 characters, >= 85 % letters and spaces, whitespace joined."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        para = re.sub(r"\s+", " ", block).strip()
        if 100 <= len(para) <= 300 and sum(c.isalpha() or c.isspace() for c in para) >= 0.85 * len(para):
            out.append(para)
    return out


def unique(items: list[str], exclude: set[str] = frozenset()) -> list[str]:
    seen, out = set(exclude), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def corpora(kit, seed: int) -> tuple[list[str], int, list[str], list[str], dict[str, list[str]]]:
    """(training topics, number of held-out topics, training paragraphs, held-out paragraphs,
    {anomaly corpus: paragraphs})."""
    import sklearn

    topics = kit.load_dataset("pydoc-topics")
    order = np.random.default_rng(seed).permutation(len(topics))
    n_train = int(0.6 * len(topics))
    train_docs = [topics[i] for i in order[:n_train]]
    train = unique([p for doc in train_docs for p in paragraphs(doc)])
    held_out = unique([p for i in order[n_train:] for p in paragraphs(topics[i])], exclude=set(train))
    descr = sorted(Path(sklearn.__file__).parent.glob("datasets/descr/*.rst"))
    site = Path(sklearn.__file__).parents[1]
    licences = sorted(f for f in [*site.glob("*.dist-info/LICEN[CS]E*"), *site.glob("*.dist-info/licenses/**/*")]
                      if f.is_file())
    anomalies = {"scikit-learn dataset descriptions": unique([p for f in descr for p in paragraphs(f.read_text())]),
                 "licences in site-packages": unique([p for f in licences
                                                      for p in paragraphs(f.read_text(errors="replace"))])}
    drawn = np.random.default_rng(seed).permutation(len(anomalies["licences in site-packages"]))[:N_LICENCES]
    anomalies["licences in site-packages"] = [anomalies["licences in site-packages"][i] for i in sorted(drawn)]
    return train_docs, len(topics) - n_train, train, held_out, anomalies


def train_lm(kit, name: str, docs: list[str], steps: int, model: dict, tokenizer: str = "") -> tuple[Path, dict]:
    """A GPT-2 trained on ``docs`` by the text task; (its folder, the run's metrics with CPU seconds)."""
    from gentoolkit import RuntimeOptions

    data = OUT / "train_topics.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("".join(json.dumps({"text": doc}) + "\n" for doc in docs))
    overrides = {"data": {"dataset": "jsonl", "path": str(data), "holdout": 0.05},
                 "tokenizer": {"path": tokenizer}, "model": model,
                 "train": {"steps": steps, "block_size": 256, "stride": 128, "batch_size": 8,
                           "eval_every": max(1, steps // 4), "checkpoint_every": 0, "resume": False},
                 "generate": {"prompts": ["The "], "samples_per_prompt": 2, "max_new_tokens": 32}}
    cpu = time.process_time()
    result = kit.run("text", overrides=overrides, options=RuntimeOptions(out=OUT / name, progress=False, threads=1))
    return result.artifacts["model"], {**result.metrics, "cpu_seconds": time.process_time() - cpu}


def lm_scores(kit, lm: Path, background: Path, train: list[str], test: list[str]) -> tuple[dict, dict]:
    """Each LM score of the test items by a fitted ``anomaly-sequence``, and its fit + scoring CPU seconds."""
    scores, seconds = {}, {}
    for label, (score, ratio) in LM_SCORES.items():
        cpu = time.process_time()
        params = {"model": str(background if ratio is None else lm), "score": score, "epochs": 0, "batch_size": 64}
        if ratio:
            params["background"] = str(background)
        detector = kit.create_model("anomaly-sequence", **params).fit(train)
        scores[label] = detector.decision_function(test)
        seconds[label] = time.process_time() - cpu
    return scores, seconds


def baseline_scores(kit, train: list[str], test: list[str]) -> dict:
    """Scikit-learn Pipelines of TF-IDF (word 1-2-grams, or character 2-4-grams within words; sublinear,
    min_df 2) and the plugin's detectors, fitted on the training paragraphs; and 1 - the largest cosine
    similarity of a test paragraph's character TF-IDF to a training paragraph's."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    words = lambda: TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)  # noqa: E731
    chars = lambda: TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2)  # noqa: E731
    dense = lambda: FunctionTransformer(lambda x: x.toarray(), accept_sparse=True)  # noqa: E731
    pipelines = {
        "TF-IDF words, PCA (90 %)": (words, kit.create_model("anomaly-pca", n_components=0.9)),
        "TF-IDF chars, PCA (90 %)": (chars, kit.create_model("anomaly-pca", n_components=0.9)),
        "TF-IDF chars, OC-SVM": (chars, kit.create_model("anomaly-ocsvm", nu=0.1)),
        "TF-IDF chars, IForest": (chars, kit.create_model("anomaly-iforest", n_estimators=200, random_state=0)),
    }
    scores = {label: make_pipeline(vectorizer(), dense(), detector).fit(train).decision_function(test)
              for label, (vectorizer, detector) in pipelines.items()}
    vectors = chars().fit(train)
    similarity = vectors.transform(test) @ vectors.transform(train).T  # rows are unit vectors: cosines
    scores["TF-IDF chars, 1 - max cosine"] = 1 - similarity.max(axis=1).toarray().ravel()
    registered = kit.create_model("anomaly-tfidf").fit(train)  # char 2-4-grams + PCA, with the unseen n-grams' column
    scores["anomaly-tfidf (chars, PCA, unseen n-grams)"] = registered.decision_function(test)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int, default=800, help="the LM's training steps (the background: half)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    from sklearn.metrics import average_precision_score, roc_auc_score

    from gentoolkit import Toolkit

    torch.set_num_threads(1)
    cpu, wall = time.process_time(), time.perf_counter()
    kit = Toolkit()
    steps = 40 if args.quick else args.steps
    train_docs, n_held, train, held_out, anomalies = corpora(kit, args.seed)
    lm, lm_metrics = train_lm(kit, "lm", train_docs, steps, LM)
    background, bg_metrics = train_lm(kit, "background", train_docs, steps // 2, BACKGROUND, tokenizer=str(lm))
    test = held_out + [p for items in anomalies.values() for p in items]
    source = np.array(["normal"] * len(held_out) + [name for name, items in anomalies.items() for _ in items])
    scores, lm_cpu = lm_scores(kit, lm, background, train, test)
    cpu_baselines = time.process_time()
    baselines = baseline_scores(kit, train, test)
    scores.update(baselines)
    cpu_baselines = time.process_time() - cpu_baselines
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall

    columns = {**{name: source == name for name in anomalies}, "both": source != "normal"}
    results = {label: {} for label in scores}
    for label, values in scores.items():
        for column, anomalous in columns.items():
            keep = (source == "normal") | anomalous
            results[label][column] = {"auroc": float(roc_auc_score(anomalous[keep], values[keep])),
                                      "auprc": float(average_precision_score(anomalous[keep], values[keep]))}
    (OUT / "results.json").write_text(json.dumps({"results": results, "lm": lm_metrics, "background": bg_metrics},
                                                 indent=1, default=str))
    best = {column: max(r[column]["auroc"] for r in results.values()) for column in columns}
    lines = ["| detector | " + " | ".join(f"AUROC vs {c}" for c in columns) + " | AUPRC vs both |",
             "|---" * (len(columns) + 2) + "|"]
    for label, row in results.items():
        cells = [f"**{row[c]['auroc']:.3f}**" if row[c]["auroc"] == best[c] else f"{row[c]['auroc']:.3f}"
                 for c in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {row['both']['auprc']:.3f} |")
    counts = ", ".join(f"{len(items)} {name}" for name, items in anomalies.items())
    body = "\n".join(lines) + (
        f"\n\nNormal: {len(held_out)} prose paragraphs of the {n_held} held-out pydoc topics; "
        f"anomalies: {counts} (paragraphs of 100-300 characters, >= 85 % letters and spaces). The models and "
        f"baselines saw the {len(train)} prose paragraphs of the {len(train_docs)} training topics (the LMs the "
        f"whole topics). LM: GPT-2 of {lm_metrics['parameters'] / 1e6:.2f}M parameters ({LM['n_layer']} layers, "
        f"{LM['n_embd']} wide, 2048-token BPE), {steps} steps of 8 x 256 tokens by `gentoolkit run text`, perplexity "
        f"{lm_metrics['heldout_perplexity']:.1f} on the 5 % of the training topics the text task holds out (its "
        f"bigram baseline's {lm_metrics['baseline_bigram_perplexity']:.1f}); {lm_metrics['cpu_seconds']:.0f} s CPU. "
        f"Background: {bg_metrics['parameters'] / 1e6:.2f}M parameters ({BACKGROUND['n_layer']} layer, "
        f"{BACKGROUND['n_embd']} wide, the LM's tokenizer), {steps // 2} steps, perplexity "
        f"{bg_metrics['heldout_perplexity']:.1f}; {bg_metrics['cpu_seconds']:.0f} s CPU. Fitting and scoring each "
        f"LM column took {np.mean(list(lm_cpu.values())):.1f} s CPU on average, the {len(baselines)} baselines "
        f"{cpu_baselines:.1f} s together. "
        f"Whole run {wall:.0f} s wall, {cpu:.0f} s CPU; 1 torch thread, load average {os.getloadavg()[0]:.1f} at the "
        "end (2 shared cores).")
    write_section("anomaly text", "nice -n 10 python bench/anomaly_text.py" + (" --quick" if args.quick else ""),
                  body)
    print(body)


if __name__ == "__main__":
    main()
