"""Tabular generators on breast-cancer and wine: fidelity, efficacy, and a rare class vs SMOTE.

    python bench/tabular.py            # the tabular task's defaults on both tables, 5 imbalance seeds
    python bench/tabular.py --quick    # 20 epochs, 2 seeds (a smoke run)

Each dataset runs the ``tabular`` task (stratified 70/30 split, seed 0): TVAE and CTGAN are trained
on the training rows, as many rows are sampled (classes at training frequencies), and measured by
fidelity against the training rows and train-synthetic-test-real against the same classifier
trained on the real rows. The imbalance table keeps 10 % of the smallest class in training and
oversamples it back with nothing, SMOTE or each generator (logistic regression, 5 seeds).
Finished runs are cached in runs/bench/tabular/<code hash>/, keyed by dataset and settings.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import ResultCache, code_digest, provenance, write_section  # noqa: E402

DATASETS = ("breast-cancer", "wine")
OUT = Path("runs/bench/tabular")


def code() -> str:
    """A hash of the tabular plugin, the core's runtime and training loop, and this script."""
    import gentoolkit

    core = Path(gentoolkit.__file__).parent
    return code_digest("gentoolkit_tabular", core / "runtime.py", core / "training.py", __file__)


def run_one(dataset: str, overrides: dict, key: str, cache: ResultCache) -> dict:
    from gentoolkit import RuntimeOptions, Toolkit

    if entry := cache.get(key):
        return entry
    began, cpu = time.perf_counter(), time.process_time()
    result = Toolkit().run("tabular", overrides={"dataset": dataset, **overrides},
                           options=RuntimeOptions(out=cache.folder / key, progress=False, seed=0))
    timing = {"wall_seconds": time.perf_counter() - began, "cpu_seconds": time.process_time() - cpu,
              "load_average": os.getloadavg()[0]}
    return cache.put(key, {"models": result.outputs["models"], "imbalance": result.outputs["imbalance"],
                           "timing": timing})


def tables(dataset: str, entry: dict) -> str:
    result = entry["result"]
    lines = [f"### {dataset}", "", "| rows trained on | column shapes | pair trends | quality | TSTR balanced acc. | "
             "TSTR ROC-AUC | TSTR / TRTR AUC |", "|---|---|---|---|---|---|---|"]
    real = None
    for label, row in result["models"].items():
        fid, eff = row["fidelity"], row["efficacy"]
        real = eff
        lines.append(f"| {label} samples | {fid['column_shapes']:.3f} | {fid['pair_trends']:.3f} | "
                     f"{fid['quality']:.3f} | {eff['tstr_balanced_accuracy']:.3f} | {eff['tstr_roc_auc']:.4f} | "
                     f"{eff['relative_roc_auc']:.3f} |")
    lines.append(f"| real training rows (TRTR) | 1 | 1 | 1 | {real['trtr_balanced_accuracy']:.3f} | "
                 f"{real['trtr_roc_auc']:.4f} | 1 |")
    lines += ["", "| oversampling the rare class | balanced accuracy | ROC-AUC |", "|---|---|---|"]
    for method, row in result["imbalance"].items():
        lines.append(f"| {method} | {row['balanced_accuracy_mean']:.4f} ± {row['balanced_accuracy_sd']:.4f} | "
                     f"{row['roc_auc_mean']:.4f} ± {row['roc_auc_sd']:.4f} |")
    t = result["timing"]
    lines += ["", f"{t['cpu_seconds']:.0f} s CPU, {t['wall_seconds']:.0f} s wall (load average "
              f"{t['load_average']:.1f}); {provenance([entry])}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    overrides = {"epochs": 20, "imbalance.seeds": 2} if args.quick else {}
    cache = ResultCache(OUT, code())
    body = []
    for dataset in DATASETS:
        key = f"{dataset}{'-quick' if args.quick else ''}"
        body.append(tables(dataset, run_one(dataset, overrides, key, cache)))
    body.append("Fidelity is against the training rows: column shapes are 1 − KS (numeric) or 1 − TV (label), "
                "pair trends 1 − |Δ Pearson r| / 2 (or contingency similarity with the label), quality their mean "
                "(SDMetrics' definitions, computed with scipy). Efficacy: the same logistic regression "
                "(standardised inputs) trained on as many synthetic rows as real training rows, or on the real "
                "training rows (TRTR), tested on the real test split. Imbalance: 10 % of the smallest class kept "
                "in training (breast-cancer: 15 of 148 malignant rows; wine: 3 of 33 class_2 rows), brought up to "
                "the largest class; mean ± SD (ddof 1) over seeds 0-4, each seed a different subsample, SMOTE "
                "seed and generator.")
    write_section("tabular", f"python bench/tabular.py{' --quick' if args.quick else ''}", "\n".join(body))


if __name__ == "__main__":
    main()
