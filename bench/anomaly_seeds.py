"""One-class digits over seeds: the VAE's scores one seed at a time and as a seed ensemble, Deep
SVDD, against PCA; mean +- SD over seeds.

    python bench/anomaly_seeds.py                 # 4 VAE seeds and 3 Deep SVDD seeds per digit, test split
    python bench/anomaly_seeds.py --validation    # the same on a validation split of the training half

Each digit in turn is normal (stratified 50/50 split, seed 0, as in `gentoolkit run anomaly`).
``--validation`` splits the 898 training images again 50/50 (seed 1) and never looks at the test
images: the score to use was chosen there. Per-item scores are kept in
runs/bench/anomaly_seeds/<split>.npz, so an interrupted run resumes; delete it to start over.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section  # noqa: E402

VAE = {"latent_dim": 8, "width": 16}  # the run's default VAE, 500 epochs
SCORES = ("reconstruction", "latent", "-ELBO", "-IWAE(16)")


def vae_scores(kit, x_fit, x_eval, seed):
    """The four scores of one VAE (seed ``seed``) trained on ``x_fit``, for the items ``x_eval``."""
    import torch

    from gentoolkit_anomaly.generative import GenerativeDetector

    model = GenerativeDetector(model="image-vae", params=VAE, score="reconstruction", epochs=500, seed=seed,
                               toolkit=kit).fit(x_fit).model_
    items = torch.tensor(x_eval, dtype=torch.float32)
    with torch.no_grad():
        reconstruction = ((model.reconstruct(items).double() - items.double()) ** 2).flatten(1).sum(1)
        latent = 0.5 * (model.encode(items).double() ** 2).sum(1)
        elbo, iwae = (-model.log_prob(items, num_samples=k).double() for k in (1, 16))
    return np.stack([t.numpy() for t in (reconstruction, latent, elbo, iwae)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validation", action="store_true")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--svdd-seeds", type=int, default=3)
    args = parser.parse_args()

    import torch
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    from gentoolkit import Toolkit
    from gentoolkit_anomaly.classical import PCADetector
    from gentoolkit_anomaly.deep_svdd import DeepSVDDDetector
    from gentoolkit_anomaly.task import one_class_split

    torch.set_num_threads(1)
    kit = Toolkit()
    x_train, y_train, x_eval, y_eval, _ = one_class_split(kit, "digits", 0.5, 0)
    split = "validation" if args.validation else "test"
    if args.validation:
        x_train, x_eval, y_train, y_eval = train_test_split(x_train, y_train, test_size=0.5, stratify=y_train,
                                                            random_state=1)
    store = Path("runs/bench/anomaly_seeds") / f"{split}.npz"
    store.parent.mkdir(parents=True, exist_ok=True)
    scores = dict(np.load(store)) if store.exists() else {}
    began, cpu = time.perf_counter(), time.process_time()
    for digit in range(10):
        x_fit = x_train[y_train == digit]
        for seed in range(args.seeds):
            if f"{digit}_{seed}_eval" not in scores:
                scores[f"{digit}_{seed}_eval"] = vae_scores(kit, x_fit, x_eval, seed)
                np.savez(store, **scores)
        for seed in range(args.svdd_seeds):
            if f"svdd_{digit}_{seed}" not in scores:
                scores[f"svdd_{digit}_{seed}"] = DeepSVDDDetector(seed=seed).fit(x_fit).decision_function(x_eval)
                np.savez(store, **scores)
        print(f"digit {digit}: {time.perf_counter() - began:.0f} s wall, {time.process_time() - cpu:.0f} s CPU",
              flush=True)

    def auroc(digit, values):
        return roc_auc_score(y_eval != digit, values)

    seeds, columns = range(args.seeds), {}
    pca = [auroc(d, PCADetector().fit(x_train[y_train == d]).decision_function(x_eval)) for d in range(10)]
    columns["PCA (90 %)"] = np.array([pca])  # (replicates, digits); deterministic
    for i, name in enumerate(SCORES):
        columns[f"VAE {name}, one seed"] = np.array([[auroc(d, scores[f"{d}_{s}_eval"][i]) for d in range(10)]
                                                     for s in seeds])
    for size in (2, 4):  # disjoint groups of consecutive seeds: what EnsembleDetector(members=size) scores
        groups = [list(seeds)[g:g + size] for g in range(0, args.seeds - size + 1, size)]
        if groups:
            columns[f"VAE reconstruction, ensemble of {size}"] = np.array(
                [[auroc(d, np.mean([scores[f"{d}_{s}_eval"][0] for s in group], 0)) for d in range(10)]
                 for group in groups])
    columns["Deep SVDD, one seed"] = np.array([[auroc(d, scores[f"svdd_{d}_{s}"]) for d in range(10)]
                                               for s in range(args.svdd_seeds)])
    lines = ["| detector | replicates | mean AUROC ± SD over replicates | worst digit (mean) | digits above PCA |",
             "|---|---|---|---|---|"]
    for label, table in columns.items():
        means = table.mean(1)
        per_digit = table.mean(0)
        above = int((per_digit > np.array(pca) + 1e-12).sum())
        sd = means.std(ddof=1) if len(means) > 1 else 0.0
        lines.append(f"| {label} | {len(table)} | {means.mean():.4f} ± {sd:.4f}"
                     f" | {per_digit.min():.4f} (digit {per_digit.argmin()}) | {above} of 10 |")
    per_digit = ["| digit | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    per_digit += [f"| {d} | " + " | ".join(f"{t[:, d].mean():.4f}" for t in columns.values()) + " |" for d in range(10)]
    body = "\n".join(lines) + "\n\nPer digit (mean over replicates):\n\n" + "\n".join(per_digit) + (
        f"\n\nSplit: {split} ({len(x_eval)} items scored per digit). A replicate is one seed, or one disjoint group "
        f"of consecutive seeds for an ensemble. {time.perf_counter() - began:.0f} s wall, "
        f"{time.process_time() - cpu:.0f} s CPU in this process (fits already in {store} are not redone).")
    write_section(f"anomaly one-class digits over seeds ({split})",
                  "python bench/anomaly_seeds.py" + (" --validation" if args.validation else ""), body)
    print(body)


if __name__ == "__main__":
    main()
