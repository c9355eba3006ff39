"""The likelihood pitfall on digits, and the likelihood ratio that fixes it (Ren et al. 2019).

    python bench/anomaly_likelihood_ratio.py           # PixelCNN, 30 epochs on the 898 training digits
    python bench/anomaly_likelihood_ratio.py --quick   # 3 epochs (a smoke run)

A PixelCNN (exact likelihood) is trained on all training digits; the 899 test digits are normal.
Out-of-distribution sets of the same size: the digits inverted (1 - x), uniform noise, the digits
shrunk to 4x4 in the middle of a black 8x8 (simpler images: the model's likelihood prefers
them) and near-black images. Raw -log p(x) is compared with the likelihood ratio against a
background PixelCNN trained on the digits with 20 % of the pixels replaced by noise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section  # noqa: E402

MODEL = {"channels": 16, "num_layers": 4, "levels": 17}
BACKGROUND = {"channels": 16, "num_layers": 1, "levels": 17}


def out_of_distribution(digits, seed: int = 1) -> dict:
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    shrunk = np.zeros_like(digits)
    shrunk[:, :, 2:6, 2:6] = torch.nn.functional.avg_pool2d(torch.tensor(digits), 2).numpy()
    return {"inverted digits": 1 - digits, "uniform noise": rng.random(digits.shape), "shrunk digits": shrunk,
            "near-black": rng.random(digits.shape) * 0.05}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--mutation-rate", type=float, default=0.2)
    args = parser.parse_args()

    import numpy as np
    from sklearn.metrics import roc_auc_score

    from gentoolkit import Toolkit
    from gentoolkit_anomaly.generative import LikelihoodRatioDetector
    from gentoolkit_anomaly.task import one_class_split

    kit = Toolkit()
    x_train, _, x_test, _, _ = one_class_split(kit, "digits", 0.5, 0)
    epochs = 3 if args.quick else 30
    began = time.perf_counter()
    ratio = LikelihoodRatioDetector(model="image-pixelcnn", params=MODEL, background_params=BACKGROUND,
                                    mutation_rate=args.mutation_rate, epochs=epochs, toolkit=kit).fit(x_train)
    fitted = time.perf_counter() - began
    lines = ["| out-of-distribution set | AUROC of -log p(x) | AUROC of the likelihood ratio |", "|---|---|---|"]
    for name, items in out_of_distribution(x_test).items():
        both = np.concatenate([x_test, items])
        labels = np.r_[np.zeros(len(x_test)), np.ones(len(items))]
        raw = ratio._nll(ratio.model_, ratio._model_items(both))
        lines.append(f"| {name} | {roc_auc_score(labels, raw):.3f} | "
                     f"{roc_auc_score(labels, ratio.decision_function(both)):.3f} |")
    body = "\n".join(lines) + (
        f"\n\nPixelCNN {MODEL}, background {BACKGROUND}, mutation rate {args.mutation_rate}, {epochs} epochs each; "
        f"both models fitted in {fitted:.0f} s. Normal: the 899 test digits.")
    write_section("anomaly likelihood ratio", "python bench/anomaly_likelihood_ratio.py"
                  + (" --quick" if args.quick else ""), body)
    print(body)


if __name__ == "__main__":
    main()
