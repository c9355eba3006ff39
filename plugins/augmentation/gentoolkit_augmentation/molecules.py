"""``gentoolkit run augmentation-molecules``: augment a few labelled molecules with SMILES sampled from
the molecules prior fine-tuned on each class, and score a Morgan-fingerprint classifier's ROC-AUC.

Labels come from a property rule (actives: ``property >= threshold``) or a CSV label column. The
prior is fine-tuned per class and seed through the molecules plugin's public ``transfer_learning``
mode (``runtime.toolkit.run``) and read back with ``runtime.toolkit.load_model`` as a ``Sampler``.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gentoolkit_augmentation.report import BOTH_FILTERS, KNN_FILTERED

DEFAULTS: dict[str, Any] = {
    "data": "default",  # a registered SMILES dataset, or a .smi / .csv file (CSV: a smiles column)
    "label_column": "",  # a CSV column holding each molecule's class; "" = label by the property rule
    "property": "qed",  # qed | logp | mw | tpsa: actives are molecules with property >= threshold
    "threshold": 0.85,
    "pool": 6000,  # molecules of `data` used, drawn once with seed 0 (0 = all)
    "test_fraction": 0.25,  # held-out real molecules, the same for every seed
    "per_class": 50,  # real molecules per class in the budget
    "seeds": [0, 1, 2, 3, 4],
    "samples_per_class": 250,  # molecules sampled from each class's fine-tuned prior
    "ratio": 2.0,  # synthetic molecules added per real one in the mixes
    "tau": 0.7,  # filter: keep a sample the real-data classifier gives its class with p >= tau
    "knn": 3,  # k-NN filter: keep a sample inside its class's Tanimoto k-NN manifold of real molecules (0: off)
    "enumerations": 2,  # randomised SMILES per real molecule (the classical baseline)
    "bit_dropout": 0.1,  # fingerprint-level baseline: drop each on-bit of a copy with this probability
    "prior": "",  # a saved SMILES prior to fine-tune ("" = the molecules plugin's shipped prior)
    "fine_tune": {"epochs": 10, "batch_size": 16, "learning_rate": 1e-3},
    "classifier": {"C": 1.0, "radius": 2, "bits": 2048},
    "strict": False,  # refuse a file with invalid SMILES instead of skipping (and reporting) them
}
RANGES = {"threshold": "[-100, 100000]", "pool": ">= 0",  # threshold: wide enough for QED, logP, MW (Da), TPSA
           "test_fraction": "(0, 1)", "per_class": ">= 2",
          "samples_per_class": ">= 1", "ratio": "> 0", "tau": "[0, 1]", "knn": ">= 0", "enumerations": ">= 1",
          "bit_dropout": "[0, 1)", "fine_tune": {"epochs": ">= 1", "batch_size": ">= 1", "learning_rate": "> 0"},
          "classifier": {"C": "> 0", "radius": ">= 1", "bits": ">= 64"}}
HEADLINE = "molecules/generated_filtered"
PROPERTIES = ("qed", "logp", "mw", "tpsa")
RULE_LABELLED = "generated, rule-labelled"
FP_DROPOUT = "classical (fingerprint bit dropout)"


@dataclass
class Labelled:
    """Canonical SMILES, int labels, class names, and where they came from."""

    smiles: list[str]
    labels: np.ndarray
    classes: tuple[str, ...]
    source: str
    skipped: int = 0
    rule: Any = None  # the PropertyRule that made the labels (None: labels from a file)


@dataclass(frozen=True)
class PropertyRule:
    """Labels a molecule 1 (active) when its RDKit ``property`` is ``>= threshold``, else 0."""

    property: str
    threshold: float
    classes: tuple[str, ...] = field(default=("inactive", "active"))

    def __post_init__(self) -> None:
        from gentoolkit_augmentation.pipeline import AugmentationError

        if self.property not in PROPERTIES:
            raise AugmentationError(f"property = {self.property!r} is not a molecular property this task "
                                    f"computes; use one of {', '.join(PROPERTIES)}.")

    def values(self, smiles: Sequence[str]) -> np.ndarray:
        from rdkit import Chem
        from rdkit.Chem import QED, Crippen, Descriptors, rdMolDescriptors

        compute = {"qed": QED.qed, "logp": Crippen.MolLogP, "mw": Descriptors.MolWt,
                   "tpsa": rdMolDescriptors.CalcTPSA}[self.property]
        return np.array([compute(Chem.MolFromSmiles(s)) for s in smiles], dtype=float)

    def __call__(self, smiles: Sequence[str]) -> np.ndarray:
        return (self.values(smiles) >= self.threshold).astype(int)


def canonical(smiles: str) -> str | None:
    """RDKit canonical SMILES of the largest fragment; None when RDKit cannot parse it."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles) if smiles and len(smiles) <= 1000 else None
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    fragments = Chem.GetMolFrags(mol, asMols=True)
    return Chem.MolToSmiles(max(fragments, key=lambda m: m.GetNumHeavyAtoms()) if len(fragments) > 1 else mol)


def _read_rows(path: Path, label_column: str) -> tuple[list[tuple[str, str, str]], str]:
    """``(where, smiles, label)`` rows of a .smi or .csv file (label "" when there is none)."""
    from gentoolkit_augmentation.pipeline import AugmentationError

    if not path.is_file():
        raise AugmentationError(f"data = {str(path)!r} is neither a registered SMILES dataset nor a file; give "
                                "a .smi or .csv of molecules, or a dataset from `gentoolkit datasets`.")
    if path.suffix.lower() != ".csv":
        if label_column:
            raise AugmentationError(f"label_column = {label_column!r} needs a CSV file; {path} is not one.")
        rows = [(f"line {i}", line.split()[0], "") for i, line in enumerate(path.read_text().splitlines(), 1)
                if line.strip() and not line.startswith("#")]
        return rows, "SMILES"
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        smiles_column = next((c for c in columns if c.strip().lower() in ("smiles", "canonical_smiles")), None)
        if smiles_column is None:
            raise AugmentationError(f"{path} has no 'smiles' column (columns: {', '.join(columns) or 'none'}); "
                                    "name the column of SMILES 'smiles'.")
        if label_column and label_column not in columns:
            raise AugmentationError(f"{path} has no label column {label_column!r} (columns: {', '.join(columns)}); "
                                    "set label_column to the column holding each molecule's class.")
        rows = [(f"line {i}", (r.get(smiles_column) or "").strip(), (r.get(label_column) or "").strip()
                 if label_column else "") for i, r in enumerate(reader, 2)]
    return rows, smiles_column


def load_labelled(toolkit: Any, config: dict[str, Any]) -> Labelled:
    """The molecules of ``config["data"]`` (canonical, deduplicated, invalid ones skipped and reported)
    with their labels: from ``label_column``, else from the property rule."""
    from gentoolkit.errors import skip_bad_records
    from gentoolkit_augmentation.pipeline import AugmentationError, check_labels

    name, label_column = config["data"], config["label_column"]
    datasets = toolkit.datasets
    if name in datasets and datasets[name].items == "smiles":
        if label_column:
            raise AugmentationError(f"label_column = {label_column!r}: the registered dataset {name!r} has "
                                    "SMILES only; label it by the property rule (label_column = '') or give a CSV.")
        loaded = datasets[name].load()  # a MoleculeSet (.smiles) or a plain list of SMILES
        rows = [(f"item {i}", s, "") for i, s in enumerate(getattr(loaded, "smiles", loaded), 1)]
    else:
        rows, _ = _read_rows(Path(name), label_column)
    if config["pool"] and len(rows) > config["pool"]:
        keep = np.sort(np.random.default_rng(0).choice(len(rows), config["pool"], replace=False))
        rows = [rows[i] for i in keep]
    bad, seen, smiles, raw_labels = [], set(), [], []
    for where, text, label in rows:
        if label_column and not label:
            bad.append((where, "no label"))
            continue
        c = canonical(text)
        if c is None:
            bad.append((where, f"{text!r} is not a valid SMILES"))
        elif c not in seen:
            seen.add(c)
            smiles.append(c)
            raw_labels.append(label)
    skip_bad_records(str(name), bad, len(rows), config["strict"], "molecules", AugmentationError)
    if label_column:
        classes = tuple(sorted(set(raw_labels)))
        labels, rule = np.array([classes.index(v) for v in raw_labels]), None
    else:
        rule = PropertyRule(config["property"], float(config["threshold"]))
        classes, labels = rule.classes, rule(smiles)
    check_labels(labels, classes, str(name))
    return Labelled(smiles, labels, classes, str(name), len(bad), rule)


def fingerprints(smiles: Sequence[str], radius: int = 2, bits: int = 2048) -> np.ndarray:
    """Morgan fingerprints (ECFP-like bit vectors) ``(N, bits)`` as float32."""
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=bits)
    out = np.zeros((len(smiles), bits), dtype=np.float32)
    for i, s in enumerate(smiles):
        out[i] = generator.GetFingerprintAsNumPy(Chem.MolFromSmiles(s))
    return out


def randomised(smiles: Sequence[str], n: int, seed: int) -> list[str]:
    """``n`` RDKit randomised SMILES of each molecule (SMILES enumeration, Bjerrum 2017)."""
    from rdkit import Chem

    Chem.rdBase.SeedRandomNumberGenerator(seed)  # doRandom draws from RDKit's own generator
    return [Chem.MolToSmiles(Chem.MolFromSmiles(s), doRandom=True, canonical=False) for s in smiles for _ in range(n)]


def roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    """ROC-AUC: binary on the second class's probability, macro one-vs-rest for more classes."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, proba[:, 1]) if proba.shape[1] == 2 else
                 roc_auc_score(y, proba, multi_class="ovr", average="macro"))


def classifier(x: np.ndarray, y: np.ndarray, c: float, seed: int):
    """The one downstream classifier every method trains: L2 logistic regression on fingerprints."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(x, y)


def fine_tuned_samples(runtime: Any, smiles: Sequence[str], name: str, seed: int, config: dict[str, Any]) -> list[str]:
    """Fine-tune the prior on ``smiles`` (the molecules plugin's transfer_learning mode, run through
    the toolkit into ``generators/NAME``), load it as a ``Sampler`` and draw ``samples_per_class``."""
    import torch
    from gentoolkit.protocols import Sampler
    from gentoolkit.runtime import RuntimeOptions
    from gentoolkit_augmentation.pipeline import AugmentationError

    folder = runtime.out_dir / "generators" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.smi").write_text("".join(f"{s}\n" for s in smiles))
    tune = config["fine_tune"]
    overrides = {"mode": "transfer_learning", "prior": config["prior"], "strict": True,
                 "transfer_learning.dataset": str(folder / "train.smi"), "transfer_learning.epochs": tune["epochs"],
                 "transfer_learning.batch_size": tune["batch_size"],
                 "transfer_learning.learning_rate": tune["learning_rate"], "transfer_learning.valid_fraction": 0.0,
                 "transfer_learning.num_samples": 1, "tracking.tensorboard": False}
    options = RuntimeOptions(device=str(runtime.device), seed=seed, out=folder / "run", progress=False,
                             threads=runtime.options.threads)
    result = runtime.toolkit.run("molecules", overrides=overrides, options=options)
    model = runtime.toolkit.load_model(result.artifacts["model"])
    if not isinstance(model, Sampler) or model.item_spec.kind != "smiles":
        raise AugmentationError(f"The fine-tuned prior in {folder} is not a SMILES Sampler; the molecules "
                                "plugin's transfer_learning mode must save a prior that samples SMILES.")
    generator = torch.Generator().manual_seed(seed)
    return list(model.sample(config["samples_per_class"], generator=generator))


@dataclass
class Generated:
    """Valid, new sampled molecules with the class whose generator made them; validity per class."""

    smiles: list[str]
    labels: np.ndarray
    stats: dict[str, float]


def generate(runtime: Any, data: Labelled, budget_idx: np.ndarray, test: set[str], seed: int,
             config: dict[str, Any]) -> Generated:
    """Sample from a prior fine-tuned on each class's budget; keep valid molecules that are neither
    in the real budget nor in the test set (a sample equal to a test molecule would leak it)."""
    real = {data.smiles[i] for i in budget_idx}
    smiles, labels, stats = [], [], {}
    for c, name in enumerate(data.classes):
        members = [data.smiles[i] for i in budget_idx if data.labels[i] == c]
        raw = fine_tuned_samples(runtime, members, f"seed{seed}-{_slug(name)}", seed, config)
        valid = [s for s in map(canonical, raw) if s is not None]
        new = list(dict.fromkeys(s for s in valid if s not in real and s not in test))
        stats[f"{name}/validity"] = len(valid) / max(len(raw), 1)
        stats[f"{name}/new_unique"] = len(new) / max(len(raw), 1)
        smiles += new
        labels += [c] * len(new)
    return Generated(smiles, np.array(labels, dtype=int), stats)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)[:40] or "class"


def split(data: Labelled, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """A stratified held-out test split, the same for every seed: (pool indices, test indices)."""
    rng = np.random.default_rng(0)
    test = [rng.permutation(np.flatnonzero(data.labels == c))[: max(1, int(round(test_fraction * np.sum(
        data.labels == c))))] for c in range(len(data.classes))]
    test_idx = np.sort(np.concatenate(test))
    return np.setdiff1d(np.arange(len(data.smiles)), test_idx), test_idx


def one_seed(runtime: Any, data: Labelled, pool: np.ndarray, test_idx: np.ndarray, x_test: np.ndarray,
             seed: int, config: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """Every method's ROC-AUC on the test set for one seed, and what the generators made."""
    from gentoolkit_augmentation.pipeline import budget, confident, in_manifold, mix

    cls = config["classifier"]
    fp = lambda smiles: fingerprints(smiles, cls["radius"], cls["bits"])  # noqa: E731
    y_test = data.labels[test_idx]
    idx = pool[budget(data.labels[pool], config["per_class"], seed, data.classes)]
    x_real, y_real = fp([data.smiles[i] for i in idx]), data.labels[idx]
    score = lambda x, y: roc_auc(y_test, classifier(x, y, cls["C"], seed).predict_proba(x_test))  # noqa: E731
    real_model = classifier(x_real, y_real, cls["C"], seed)
    scores = {"real only": roc_auc(y_test, real_model.predict_proba(x_test))}

    enumerated = randomised([data.smiles[i] for i in idx], config["enumerations"], seed)
    scores["classical"] = score(np.concatenate([x_real, fp(enumerated)]),
                                np.concatenate([y_real, np.repeat(y_real, config["enumerations"])]))
    rng = np.random.default_rng(seed)
    copies = int(round(config["ratio"]))
    noisy = np.repeat(x_real, copies, axis=0) * (rng.random((len(x_real) * copies, x_real.shape[1]))
                                                   >= config["bit_dropout"])
    scores[FP_DROPOUT] = score(np.concatenate([x_real, noisy]), np.concatenate([y_real, np.repeat(y_real, copies)]))

    made = generate(runtime, data, idx, {data.smiles[i] for i in test_idx}, seed, config)
    x_gen = fp(made.smiles)
    kept = confident(real_model.predict_proba(x_gen), made.labels, config["tau"]) if len(x_gen) else \
        np.zeros(0, dtype=bool)
    share = lambda mask: float(mask.mean()) if len(mask) else 0.0  # noqa: E731
    stats = dict(made.stats, generated_count=len(made.smiles), kept_by_filter=share(kept))
    masks = {"generated": np.ones(len(x_gen), dtype=bool), "generated filtered": kept}
    if config["knn"] > 0:  # Tanimoto distance = Jaccard distance of the bit vectors
        near = in_manifold(x_real.astype(bool), x_gen.astype(bool), config["knn"], y_real, made.labels, "jaccard") \
            if len(x_gen) else np.zeros(0, dtype=bool)
        masks[KNN_FILTERED], masks[BOTH_FILTERS] = near, near & kept
        stats.update(kept_by_knn=share(near), kept_by_both=share(near & kept))
    for method, mask in masks.items():
        x, y, _ = mix(x_real, y_real, x_gen[mask], made.labels[mask], config["ratio"], seed)
        scores[method] = score(x, y)
    # Generated only (CAS) needs samples of every class; a generator that made none scores chance.
    scores["generated only (CAS)"] = score(x_gen, made.labels) if len(set(made.labels)) > 1 else 0.5
    if data.rule is not None:
        relabelled = data.rule(made.smiles)
        stats["generator_label_agreement"] = float((relabelled == made.labels).mean()) if len(made.labels) else 0.0
        x, y, _ = mix(x_real, y_real, x_gen, relabelled, config["ratio"], seed)
        scores[RULE_LABELLED] = score(x, y)
    return scores, stats


NOTES = {
    "classical": "SMILES enumeration: Morgan fingerprints do not depend on atom order, so randomised SMILES "
                 "only repeat each real row (for an L2 logistic regression, a weaker penalty)",
    FP_DROPOUT: "copies of each real fingerprint with on-bits dropped at random",
    "generated": "prior fine-tuned per class; a sample takes the class of its generator",
    "generated filtered": "the same, kept when the real-data classifier gives its class p >= tau",
    KNN_FILTERED: "the same, kept inside their class's k-NN manifold of real molecules (Tanimoto, k = knn)",
    BOTH_FILTERS: "the same, kept by both filters",
    RULE_LABELLED: "the same samples labelled by the property rule (one oracle call each)",
    "full data": "every non-test molecule of the pool, real labels",
}


def run(runtime: Any, config: dict[str, Any]) -> Any:
    from gentoolkit import RunResult
    from gentoolkit.runlog import write_metrics
    from gentoolkit_augmentation.report import CEILING, Experiment

    started, cpu = time.perf_counter(), time.process_time()
    data = load_labelled(runtime.toolkit, config)
    pool, test_idx = split(data, config["test_fraction"])
    cls = config["classifier"]
    x_test = fingerprints([data.smiles[i] for i in test_idx], cls["radius"], cls["bits"])
    per_seed, stats = [], []
    with runtime.progress(len(config["seeds"]), "seeds") as advance:
        for seed in config["seeds"]:
            scores, made = one_seed(runtime, data, pool, test_idx, x_test, seed, config)
            per_seed.append(scores)
            stats.append(made)
            runtime.log(f"seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
            advance()
    x_pool = fingerprints([data.smiles[i] for i in pool], cls["radius"], cls["bits"])
    ceiling = roc_auc(data.labels[test_idx], classifier(x_pool, data.labels[pool], cls["C"], 0)
                      .predict_proba(x_test))
    experiment = Experiment(f"molecules ({data.source}, {_labels_text(data, config)}), {config['per_class']} per class",
                            "roc_auc", list(config["seeds"]))
    for method in per_seed[0]:
        experiment.add(method, [s[method] for s in per_seed], NOTES.get(method, ""))
    experiment.add(CEILING, [ceiling] * len(config["seeds"]), NOTES[CEILING])
    return _finish(runtime, experiment, data, stats, started, cpu, RunResult, write_metrics)


def _labels_text(data: Labelled, config: dict[str, Any]) -> str:
    if data.rule is None:
        return f"labels from column {config['label_column']!r}"
    return f"active = {data.rule.property} >= {data.rule.threshold:g}"


def _finish(runtime, experiment, data, stats, started, cpu, RunResult, write_metrics):
    """Print the table; write metrics.json (experiment + flat metrics) and return the result."""
    means = {f"molecules/{k}": float(np.nanmean([s.get(k, np.nan) for s in stats])) for k in stats[0]}
    metrics = {**experiment.flat_metrics("molecules"), **means, "molecules/real_items": float(len(data.smiles)),
               "molecules/skipped_invalid": float(data.skipped),
               "wall_seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu}
    runtime.console.print(experiment.table())
    path = write_metrics(runtime.out_dir / "metrics.json", {**metrics, "experiments": [experiment.to_json()]})
    return RunResult("augmentation-molecules", runtime.out_dir, metrics, {"metrics": path},
                     {"experiment": experiment, "classes": data.classes})
