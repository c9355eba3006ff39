"""One-class digits: a normalizing flow's likelihood, typicality and likelihood ratio beside the classical baselines.

    nice -n 10 python bench/anomaly_digits_flow.py                   # all ten digits
    nice -n 10 python bench/anomaly_digits_flow.py --classes 0 8     # a subset (the section says which)
    nice -n 10 python bench/anomaly_digits_flow.py --quick           # digit 0, a tenth of the epochs

Runs the ``anomaly`` task (stratified 50/50 split, seed 0; each digit in turn is normal) with the image
plugin's RealNVP reached through the registry (``image-realnvp``, 17 grey levels as the digits have): -log p(x)
(``anomaly-generative``, score ``nll``), its typicality |-log p(x) - H| (Nalisnick et al. 2019; same flow) and
the likelihood ratio against a background flow trained on the digits with 20 % of the pixels replaced by noise
(``anomaly-likelihood-ratio``, Ren et al. 2019), beside PCA, OC-SVM, Isolation Forest and KDE of the same run.
PixelCNN is left out: its likelihood-ratio bench needed 1870 s for two models on all digits.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from anomaly_digits import per_class_table  # noqa: E402
from report import write_section  # noqa: E402

FLOW = {"model": "image-realnvp", "params": {"levels": 17}, "epochs": 300, "batch_size": 32}  # default RealNVP
BACKGROUND = {"num_scales": 2, "steps_per_scale": 1, "hidden_channels": 16, "levels": 17}
DETECTORS = [
    {"name": "anomaly-generative", "label": "flow -log p", "params": {**FLOW, "score": "nll"}},
    {"name": "anomaly-generative", "label": "flow typicality", "params": {**FLOW, "score": "typicality"}},
    {"name": "anomaly-likelihood-ratio", "label": "flow likelihood ratio",
     "params": {**FLOW, "background_params": BACKGROUND, "mutation_rate": 0.2}},
    {"name": "anomaly-pca", "label": "PCA", "params": {"n_components": 0.9}},
    {"name": "anomaly-ocsvm", "label": "OC-SVM", "params": {"nu": 0.1}},
    {"name": "anomaly-iforest", "label": "IForest", "params": {"n_estimators": 100}},
    {"name": "anomaly-kde", "label": "KDE", "params": {}},
]
SECTION = "anomaly one-class digits, RealNVP likelihood"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--classes", nargs="+", type=int, default=[], help="normal digits to run (default: all)")
    parser.add_argument("--epochs", type=int, default=FLOW["epochs"])
    args = parser.parse_args()

    from gentoolkit import RuntimeOptions, Toolkit

    epochs = max(1, args.epochs // 10) if args.quick else args.epochs
    classes = [0] if args.quick and not args.classes else args.classes
    detectors = [dict(spec, params={**spec["params"], **({"epochs": epochs} if "epochs" in spec["params"] else {})})
                 for spec in DETECTORS]
    overrides: dict = {"detectors": detectors, "save_detectors": False, "classes": classes,
                       "show_class": classes[0] if classes else 8}
    began, cpu = time.perf_counter(), time.process_time()
    result = Toolkit().run("anomaly", overrides=overrides,
                           options=RuntimeOptions(out=Path("runs/bench/anomaly_digits_flow"), progress=False,
                                                  threads=1))
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    lines = per_class_table(result.outputs, ("fit s / class", "fit_seconds", ".1f"),
                            ("score s / class", "score_seconds", ".2f"))
    ran = f"digits {', '.join(map(str, classes))} only" if classes else "all ten digits"
    body = "\n".join(lines) + (
        f"\n\nAUROC, anomalies = the other nine digits of the 899 test images; {ran}. {wall:.0f} s wall, {cpu:.0f} s "
        f"CPU, {cpu / max(1, len(classes) or 10):.0f} s CPU per digit (1 torch thread, `nice -n 10`, load average "
        f"{os.getloadavg()[0]:.1f} at the end: the 2 cores were shared). RealNVP {FLOW['params']} (the image plugin's "
        f"defaults otherwise: 2 scales, 3 couplings per block, width 64), {epochs} epochs, "
        f"batch {FLOW['batch_size']}; background {BACKGROUND}, mutation rate 0.2, as many epochs. The three flow "
        "columns share one flow per digit (the first column's fit seconds hold its training; the ratio's hold the "
        "background's). PixelCNN is not run: its likelihood-ratio bench took 1870 s for two models on all digits.")
    write_section(SECTION, "nice -n 10 python bench/anomaly_digits_flow.py" + (" --quick" if args.quick else "")
                  + (f" --classes {' '.join(map(str, classes))}" if args.classes else "")
                  + (f" --epochs {args.epochs}" if args.epochs != FLOW["epochs"] else ""), body)
    print(body)


if __name__ == "__main__":
    main()
