"""The molecules prior flagging a held-out chemical series, beside fingerprint baselines, in one run.

    nice -n 10 python bench/anomaly_molecules.py            # 4 series, 500 molecules to fit on each
    nice -n 10 python bench/anomaly_molecules.py --quick    # 1 series, 100 molecules

MOSES test molecules (the registry's ``moses-test``: held out from the shipped prior's training) are
grouped by a substructure class (SMARTS). For each class in turn, ``anomaly-sequence`` fine-tunes
the shipped prior on ``n`` molecules of the class; the test set is ``n`` other molecules of the class
(normal) and ``n`` MOSES molecules without it (anomalies). AUROC of the fine-tuned prior's NLL, its
NLL per token, the likelihood ratio against the shipped prior (total and per token), the shipped
prior's NLL alone, and on Morgan fingerprints (radius 2, 2048 bits): Isolation Forest, the registered
``anomaly-fingerprint`` (a one-class SVM with a Tanimoto kernel: what a SMILES run of ``gentoolkit run
anomaly`` prints beside the prior) and 1 - the largest Tanimoto similarity to a training molecule.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section  # noqa: E402

from gentoolkit_anomaly.fingerprint import fingerprints, tanimoto  # noqa: E402
from gentoolkit_anomaly.generative import shared_fits  # noqa: E402

SERIES = {  # name: SMARTS of the class
    "sulfonamides": "S(=O)(=O)N",
    "piperazines": "N1CCNCC1",
    "thiophenes": "c1ccsc1",
    "ureas": "[NX3]C(=O)[NX3]",
}
PRIOR_SCORES = {"prior NLL (shipped)": ("nll", False), "NLL": ("nll", True), "NLL/token": ("token-nll", True),
                "likelihood ratio": ("ratio", True), "ratio/token": ("token-ratio", True)}  # (score, fine-tuned)
SCORES = ["prior NLL (shipped)", "NLL", "NLL/token", "likelihood ratio", "ratio/token", "IForest (FP)",
          "anomaly-fingerprint (OC-SVM)", "1 - max Tanimoto"]


def one_series(kit, name: str, inside: list[str], outside: list[str], n: int, epochs: int, seed: int) -> dict:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    inside, outside = list(rng.permutation(inside)), list(rng.permutation(outside))
    fit, test = inside[:n], inside[n:2 * n] + outside[:n]
    labels = np.array([0] * n + [1] * n)
    row: dict = {"train": len(fit), "test": len(test)}
    began, cpu = time.perf_counter(), time.process_time()
    with shared_fits():  # the four scores of the fine-tuned prior share one fine-tune, as in `gentoolkit run anomaly`
        detectors = {label: kit.create_model("anomaly-sequence", score=score, epochs=epochs if tuned else 0,
                                             batch_size=64, seed=seed).fit(fit)
                     for label, (score, tuned) in PRIOR_SCORES.items()}
    row["fit_seconds"], row["fit_cpu"] = time.perf_counter() - began, time.process_time() - cpu
    scores = {label: detector.decision_function(test) for label, detector in detectors.items()}
    ratio, tuned = detectors["likelihood ratio"], detectors["NLL"]
    assert ratio.model_ is tuned.model_  # one fine-tuned copy
    assert np.allclose(scores["likelihood ratio"], scores["NLL"] - scores["prior NLL (shipped)"], atol=1e-3)
    row["prior_seconds"] = time.perf_counter() - began
    began = time.perf_counter()
    x_fit, x_test = fingerprints(fit), fingerprints(test)  # Morgan bits, radius 2, 2048 bits
    iforest = kit.create_model("anomaly-iforest", n_estimators=200, random_state=seed).fit(x_fit)
    scores["IForest (FP)"] = iforest.decision_function(x_test)
    cpu = time.process_time()
    scores["anomaly-fingerprint (OC-SVM)"] = kit.create_model("anomaly-fingerprint").fit(fit).decision_function(test)
    row["fingerprint_cpu"] = time.process_time() - cpu
    scores["1 - max Tanimoto"] = 1 - tanimoto(x_test, x_fit).max(1)
    row["fingerprint_seconds"] = time.perf_counter() - began
    row["auroc"] = {key: float(roc_auc_score(labels, np.asarray(value))) for key, value in scores.items()}
    top = np.argsort(-scores["likelihood ratio"])[:3]
    row["top"] = [(test[i], int(labels[i]), ratio.surprising_tokens([test[i]])[0]) for i in top]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int, default=500, help="molecules to fit on (and as many held out) per series")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--pool", type=int, default=40000, help="MOSES test molecules to draw the series from")
    args = parser.parse_args()

    import torch
    from rdkit import Chem

    from gentoolkit import Toolkit

    torch.set_num_threads(1)
    cpu, wall = time.process_time(), time.perf_counter()
    series = dict(list(SERIES.items())[:1]) if args.quick else SERIES
    n = 100 if args.quick else args.n
    kit = Toolkit()
    cache = Path("runs/bench/anomaly_molecules") / f"moses_test_{args.pool}.smi"  # the registry's standardised SMILES
    if cache.is_file():
        smiles = cache.read_text().split()
    else:
        smiles = kit.load_dataset("moses-test").smiles[:args.pool]
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text("\n".join(smiles) + "\n")
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    load_seconds = time.perf_counter() - wall
    rows = {}
    for name, smarts in series.items():
        pattern = Chem.MolFromSmarts(smarts)
        hit = np.array([m.HasSubstructMatch(pattern) for m in mols])
        inside = [s for s, h in zip(smiles, hit) if h]
        outside = [s for s, h in zip(smiles, hit) if not h]
        rows[name] = one_series(kit, name, inside, outside, min(n, len(inside) // 2), args.epochs, seed=0)
        print(name, {k: round(v, 3) for k, v in rows[name]["auroc"].items()}, flush=True)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall

    lines = ["| normal series (SMARTS) | " + " | ".join(SCORES) + " |", "|---" * (len(SCORES) + 1) + "|"]
    for name, row in rows.items():
        best = max(row["auroc"].values())
        cells = [f"**{row['auroc'][s]:.3f}**" if row["auroc"][s] == best else f"{row['auroc'][s]:.3f}" for s in SCORES]
        lines.append(f"| {name} (`{SERIES[name]}`) | " + " | ".join(cells) + " |")
    lines.append("| **mean** | " + " | ".join(f"**{np.mean([r['auroc'][s] for r in rows.values()]):.3f}**"
                                          for s in SCORES) + " |")
    fit_cpu = np.mean([r["fit_cpu"] for r in rows.values()])
    fp_cpu = np.mean([r["fingerprint_cpu"] for r in rows.values()])
    examples = next(iter(rows.values()))["top"]
    shown = "; ".join(f"`{s}` ({'anomaly' if y else 'normal'}: " +
                      ", ".join(f"{t}@{p} {v:.1f}" for p, t, v in tokens) + ")" for s, y, tokens in examples)
    body = "\n".join(lines) + (
        f"\n\nAUROC; per series {n} MOSES-test molecules of the class to fine-tune on, {n} others of the class and "
        f"{n} MOSES-test molecules without it to score (drawn from the first {args.pool} of `moses-test`, seed 0). "
        f"The shipped prior fine-tuned {args.epochs} epochs (lr 1e-4, batch 64): {fit_cpu:.1f} s CPU per series "
        f"(mean fit wall {np.mean([r['fit_seconds'] for r in rows.values()]):.1f} s). Whole run {wall:.0f} s wall, "
        f"{cpu:.0f} s CPU, of which loading MOSES test {load_seconds:.0f} s wall (standardised by the registry's "
        f"`moses-test` once, then read from runs/bench/anomaly_molecules/); 1 torch thread, "
        f"`nice -n 10`, load average {os.getloadavg()[0]:.1f} at the end (the 2 cores were shared). "
        f"Fingerprint columns on Morgan bits (radius 2, 2048 bits); `anomaly-fingerprint` is the registered detector "
        f"with its defaults (one-class SVM, nu 0.1, Tanimoto kernel), {fp_cpu:.1f} s CPU per series to fit and score. "
        f"The three items the likelihood ratio finds most anomalous in the first series, with their most "
        f"surprising tokens (token@position, nats of the ratio): {shown}.")
    write_section("anomaly molecules held-out series", "nice -n 10 python bench/anomaly_molecules.py"
                  + (" --quick" if args.quick else ""), body)
    print(body)


if __name__ == "__main__":
    main()
