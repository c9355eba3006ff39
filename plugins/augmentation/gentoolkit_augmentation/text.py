"""``gentoolkit run augmentation-text``: augment a few labelled texts with class-conditional samples
from the text plugin's language model, and score a TF-IDF + logistic-regression classifier.

The language model is a saved causal LM (``lm``, loaded as ``hf-local``) or, by default, a small
GPT-2 that the text plugin's ``text`` task trains on the unlabelled training texts (never the
test texts). It is prompted per class with the opening words of each real item of that class.
"""

from __future__ import annotations

import csv
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gentoolkit_augmentation.report import BOTH_FILTERS, KNN_FILTERED

DEFAULTS: dict[str, Any] = {
    "data": "pydoc-groups",  # the built-in labelled set (see pydoc_groups), or a CSV of text and label
    "text_column": "text",
    "label_column": "label",
    "test_fraction": 0.3,  # held-out real texts, the same for every seed
    "per_class": 10,  # real texts per class in the budget
    "seeds": [0, 1, 2, 3, 4],
    "lm": "",  # a saved causal LM folder (hf-local); "" = train a small GPT-2 on the unlabelled training texts
    "lm_train": {"steps": 600, "batch_size": 16, "lr": 3e-3, "n_layer": 2, "n_embd": 128, "vocab_size": 2048,
                 "block_size": 128},
    "samples_per_item": 3,  # continuations sampled per real item of the budget, prompted with its opening
    "prompt_words": 8,
    "max_new_tokens": 48,
    "temperature": 0.9,
    "top_p": 0.95,
    "ratio": 1.0,  # synthetic texts added per real one in the mixes
    "tau": 0.4,  # filter: keep a sample the real-data classifier gives its class with p >= tau
    "knn": 3,  # k-NN filter: keep a sample inside its class's TF-IDF cosine k-NN manifold of real texts (0: off)
    "eda": {"copies": 2, "p": 0.1},  # classical baseline: random swap + deletion of a fraction p of words
    "classifier": {"C": 10.0, "ngram_max": 2},
    "strict": False,  # refuse a CSV with empty or unlabelled rows instead of skipping (and reporting) them
}
RANGES = {"test_fraction": "(0, 1)", "per_class": ">= 2", "samples_per_item": ">= 1", "prompt_words": ">= 1",
          "max_new_tokens": ">= 1", "temperature": "> 0", "top_p": "(0, 1]", "ratio": "> 0", "tau": "[0, 1]",
          "knn": ">= 0", "eda": {"copies": ">= 1", "p": "[0, 1)"}, "classifier": {"C": "> 0", "ngram_max": ">= 1"},
          "lm_train": {"steps": ">= 1", "batch_size": ">= 1", "lr": "> 0", "n_layer": ">= 1", "n_embd": ">= 8",
                       "vocab_size": ">= 64", "block_size": ">= 2"}}
HEADLINE = "text/generated_filtered"

# pydoc topics grouped by the chapter of the Python reference they come from (topics not listed are left out).
PYDOC_GROUPS = {
    "expressions": "atom-identifiers atom-literals attribute-references await binary bitwise booleans calls "
                   "comparisons conversions dict exprlists in lambda lists operator-summary power shifting slicings "
                   "subscriptions unary identifiers strings integers floating imaginary numbers formatstrings",
    "simple statements": "assert assignment augassign break continue del global import nonlocal pass raise "
                         "return yield",
    "compound statements": "async class compound else for function if try while with",
    "data and execution model": "attribute-access callable-types context-managers customization numeric-types "
                                "objects sequence-types specialnames types execmodel naming dynamic-features "
                                "exceptions",
    "built-in types": "bltin-code-objects bltin-ellipsis-object bltin-null-object bltin-type-objects "
                      "string-methods truth typesfunctions typesmapping typesmethods typesmodules typesseq "
                      "typesseq-mutable specialattrs",
}
EDA = "classical"  # EDA-style random swap + deletion


@dataclass
class LabelledTexts:
    texts: list[str]
    labels: np.ndarray
    classes: tuple[str, ...]
    source: str
    skipped: int = 0


def pydoc_groups(min_words: int = 20) -> LabelledTexts:
    """CPython's pydoc topics cut into paragraphs of at least ``min_words`` words, each labelled
    with its topic's group in :data:`PYDOC_GROUPS` (installed with every Python, no download)."""
    from pydoc_data.topics import topics

    classes = tuple(PYDOC_GROUPS)
    group_of = {t: classes.index(g) for g, names in PYDOC_GROUPS.items() for t in names.split()}
    texts, labels = [], []
    for topic in sorted(topics):
        if topic not in group_of:
            continue
        for paragraph in re.split(r"\n\s*\n", topics[topic]):
            words = paragraph.split()
            if len(words) >= min_words:
                texts.append(" ".join(words))
                labels.append(group_of[topic])
    return LabelledTexts(texts, np.array(labels), classes, "pydoc-groups")


def read_csv(path: str | Path, text_column: str, label_column: str, strict: bool = False) -> LabelledTexts:
    """A user's CSV of texts and labels; rows with an empty text or label are skipped and reported."""
    from gentoolkit.errors import skip_bad_records
    from gentoolkit_augmentation.pipeline import AugmentationError

    path = Path(path)
    if not path.is_file():
        raise AugmentationError(f"data = {str(path)!r} is neither 'pydoc-groups' nor a file; give a CSV with a "
                                f"{text_column!r} and a {label_column!r} column.")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        for column, key in ((text_column, "text_column"), (label_column, "label_column")):
            if column not in columns:
                raise AugmentationError(f"{path} has no column {column!r} (columns: {', '.join(columns) or 'none'}); "
                                        f"set {key} to the column holding each row's {key.split('_')[0]}.")
        rows = [(i, (r.get(text_column) or "").strip(), (r.get(label_column) or "").strip())
                for i, r in enumerate(reader, 2)]
    bad = [(f"line {i}", "empty text" if not t else "no label") for i, t, lab in rows if not t or not lab]
    skip_bad_records(str(path), bad, len(rows), strict, "rows", AugmentationError)
    good = [(t, lab) for _, t, lab in rows if t and lab]
    classes = tuple(sorted({lab for _, lab in good}))
    return LabelledTexts([t for t, _ in good], np.array([classes.index(lab) for _, lab in good]), classes,
                         str(path), len(bad))


def load(config: dict[str, Any]) -> LabelledTexts:
    from gentoolkit_augmentation.pipeline import check_labels

    if config["data"] == "pydoc-groups":
        data = pydoc_groups()
    else:
        data = read_csv(config["data"], config["text_column"], config["label_column"], config["strict"])
    check_labels(data.labels, data.classes, data.source)
    return data


def eda(texts: Sequence[str], copies: int, p: float, seed: int) -> list[str]:
    """``copies`` variants of each text by random swap then random deletion (EDA's RS and RD, Wei & Zou
    2019; its synonym operations need WordNet, which is not here): ``p`` of the words each."""
    rng = np.random.default_rng(seed)
    out = []
    for text in texts:
        words = text.split()
        for _ in range(copies):
            w = list(words)
            for _ in range(max(1, int(p * len(w)))):
                i, j = rng.integers(len(w), size=2)
                w[i], w[j] = w[j], w[i]
            kept = [x for x in w if rng.random() >= p]
            out.append(" ".join(kept or [w[int(rng.integers(len(w)))]]))
    return out


def classifier(texts: Sequence[str], labels: np.ndarray, config: dict[str, Any], seed: int):
    """The one downstream classifier: TF-IDF (word 1..n-grams, sublinear tf) + logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    cls = config["classifier"]
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, cls["ngram_max"]), sublinear_tf=True),
                          LogisticRegression(C=cls["C"], max_iter=2000, random_state=seed))
    return model.fit(list(texts), labels)


def balanced_accuracy(model, texts: Sequence[str], labels: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(labels, model.predict(list(texts))))


def language_model(runtime: Any, texts: Sequence[str], config: dict[str, Any]) -> Any:
    """The causal LM as a ``Sampler``: ``lm`` loaded as ``hf-local``, or a GPT-2 that the text plugin's
    ``text`` task trains on ``texts`` (unlabelled) into ``lm/`` of this run."""
    import json

    from gentoolkit.protocols import Sampler
    from gentoolkit.runtime import RuntimeOptions
    from gentoolkit_augmentation.pipeline import AugmentationError

    if config["lm"]:
        model = runtime.toolkit.create_model("hf-local", path=config["lm"], device=str(runtime.device))
    else:
        folder = runtime.out_dir / "lm"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "train.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
        t = config["lm_train"]
        overrides = {"data.dataset": "jsonl", "data.path": str(folder / "train.jsonl"), "data.holdout": 0.05,
                     "tokenizer.vocab_size": t["vocab_size"], "model.n_layer": t["n_layer"],
                     "model.n_embd": t["n_embd"], "train.steps": t["steps"], "train.batch_size": t["batch_size"],
                     "train.lr": t["lr"], "train.eval_every": t["steps"], "train.block_size": t["block_size"],
                     "train.stride": max(1, t["block_size"] // 2), "generate.prompts": [""],
                     "generate.samples_per_prompt": 1, "tracking.tensorboard": False}
        options = RuntimeOptions(device=str(runtime.device), seed=runtime.options.seed, out=folder / "run",
                                 progress=False, threads=runtime.options.threads)
        result = runtime.toolkit.run("text", overrides=overrides, options=options)
        model = runtime.toolkit.load_model(result.artifacts["model"], device=str(runtime.device))
    if not isinstance(model, Sampler) or model.item_spec.kind != "text":
        raise AugmentationError(f"The language model {config['lm'] or 'trained for this run'} is not a text "
                                "Sampler; give a causal LM folder that `hf-local` loads.")
    return model


def prompted_samples(lm: Any, texts: Sequence[str], labels: np.ndarray, config: dict[str, Any],
                     seed: int) -> tuple[list[str], np.ndarray]:
    """For each real text, ``samples_per_item`` continuations of its first ``prompt_words`` words
    (prompt + continuation), labelled with that text's class."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    out, out_labels = [], []
    sampling = {"max_new_tokens": config["max_new_tokens"], "temperature": config["temperature"],
                "top_p": config["top_p"]}
    for text, label in zip(texts, labels):
        prompt = " ".join(text.split()[: config["prompt_words"]])
        for continuation in lm.sample(config["samples_per_item"], condition=prompt, generator=generator, **sampling):
            out.append(f"{prompt} {continuation.strip()}".strip())
            out_labels.append(int(label))
    return out, np.array(out_labels, dtype=int)


def split(data: LabelledTexts, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """A stratified held-out test split, the same for every seed: (pool indices, test indices)."""
    rng = np.random.default_rng(0)
    test = [rng.permutation(np.flatnonzero(data.labels == c))[: max(1, int(round(test_fraction * np.sum(
        data.labels == c))))] for c in range(len(data.classes))]
    test_idx = np.sort(np.concatenate(test))
    return np.setdiff1d(np.arange(len(data.texts)), test_idx), test_idx


def one_seed(lm: Any, data: LabelledTexts, pool: np.ndarray, test_idx: np.ndarray, seed: int,
             config: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """Every method's balanced accuracy on the test texts for one seed, and filter statistics."""
    from gentoolkit_augmentation.pipeline import budget, confident, in_manifold, mix

    x_test, y_test = [data.texts[i] for i in test_idx], data.labels[test_idx]
    idx = pool[budget(data.labels[pool], config["per_class"], seed, data.classes)]
    x_real, y_real = np.array([data.texts[i] for i in idx], dtype=object), data.labels[idx]
    score = lambda x, y: balanced_accuracy(classifier(x, y, config, seed), x_test, y_test)  # noqa: E731
    real_model = classifier(x_real, y_real, config, seed)
    scores = {"real only": balanced_accuracy(real_model, x_test, y_test)}
    copies = config["eda"]["copies"]
    scores[EDA] = score(np.concatenate([x_real, eda(x_real, copies, config["eda"]["p"], seed)]),
                        np.concatenate([y_real, np.repeat(y_real, copies)]))
    fake, fake_y = prompted_samples(lm, x_real, y_real, config, seed)
    fake = np.array(fake, dtype=object)
    kept = confident(real_model.predict_proba(list(fake)), fake_y, config["tau"])
    masks = {"generated": np.ones(len(fake), dtype=bool), "generated filtered": kept}
    near = np.ones(len(fake), dtype=bool)
    if config["knn"] > 0:  # in the TF-IDF space the real-data classifier learnt on the budget
        tfidf = real_model[0]
        near = in_manifold(tfidf.transform(list(x_real)), tfidf.transform(list(fake)), config["knn"], y_real, fake_y,
                           "cosine")
        masks[KNN_FILTERED], masks[BOTH_FILTERS] = near, near & kept
    for method, mask in masks.items():
        x, y, _ = mix(x_real, y_real, fake[mask], fake_y[mask], config["ratio"], seed)
        scores[method] = score(x, y)
    scores["generated only (CAS)"] = score(fake, fake_y)
    rows = [(data.classes[y], bool(k), bool(n), t) for t, y, k, n in zip(fake, fake_y, kept, near)]
    stats = {"generated_count": float(len(fake)), "kept_by_filter": float(kept.mean())}
    if config["knn"] > 0:
        stats.update(kept_by_knn=float(near.mean()), kept_by_both=float((near & kept).mean()))
    return scores, stats, rows


NOTES = {
    EDA: "random swap + random deletion (EDA without WordNet synonyms), copies per real text",
    "generated": "LM continuations of each real text's opening words, labelled with that text's class",
    "generated filtered": "the same, kept when the real-data classifier gives its class p >= tau",
    KNN_FILTERED: "the same, kept inside their class's k-NN manifold of real texts (TF-IDF cosine, k = knn)",
    BOTH_FILTERS: "the same, kept by both filters",
    "full data": "every non-test text of the set, real labels",
}


def run(runtime: Any, config: dict[str, Any]) -> Any:
    from gentoolkit import RunResult
    from gentoolkit.runlog import write_metrics
    from gentoolkit_augmentation.report import CEILING, Experiment

    started, cpu = time.perf_counter(), time.process_time()
    data = load(config)
    pool, test_idx = split(data, config["test_fraction"])
    lm = language_model(runtime, [data.texts[i] for i in pool], config)  # the unlabelled pool, never the test
    per_seed, stats, samples = [], [], []
    with runtime.progress(len(config["seeds"]), "seeds") as advance:
        for seed in config["seeds"]:
            scores, made, rows = one_seed(lm, data, pool, test_idx, seed, config)
            per_seed.append(scores)
            stats.append(made)
            samples = samples or rows  # the first seed's samples go to samples.tsv
            runtime.log(f"seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
            advance()
    ceiling = balanced_accuracy(classifier([data.texts[i] for i in pool], data.labels[pool], config, 0),
                                [data.texts[i] for i in test_idx], data.labels[test_idx])
    experiment = Experiment(f"text ({data.source}, {len(data.classes)} classes), {config['per_class']} per class",
                            "balanced_accuracy", list(config["seeds"]))
    for method in per_seed[0]:
        experiment.add(method, [s[method] for s in per_seed], NOTES.get(method, ""))
    experiment.add(CEILING, [ceiling] * len(config["seeds"]), NOTES[CEILING])
    metrics = {**experiment.flat_metrics("text"),
               **{f"text/{k}": float(np.mean([s[k] for s in stats])) for k in stats[0]},
               "text/real_items": float(len(data.texts)), "text/skipped_rows": float(data.skipped),
               "wall_seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu}
    runtime.console.print(experiment.table())
    path = runtime.out_dir / "samples.tsv"  # the first seed's generated texts: class, the filters' verdicts, text
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter="\t").writerows([("class", "kept", "in_knn_manifold", "text"), *samples])
    artifacts = {"samples": runtime.generated(path, "text"),
                 "metrics": write_metrics(runtime.out_dir / "metrics.json",
                                          {**metrics, "experiments": [experiment.to_json()]})}
    return RunResult("augmentation-text", runtime.out_dir, metrics, artifacts,
                     {"experiment": experiment, "classes": data.classes})
