"""One-class digits for all ten classes: f-AnoGAN and AnoDDPM beside the classical baselines, in the same run.

    nice -n 10 python bench/anomaly_digits_generative.py            # all ten digits
    nice -n 10 python bench/anomaly_digits_generative.py --quick    # digit 0 only, a tenth of the epochs
    nice -n 10 python bench/anomaly_digits_generative.py --only "AnoDDPM simplex"   # one detector (and the baselines)

Runs the ``anomaly`` task (stratified 50/50 split, seed 0; each digit in turn is normal) with the
detectors at a CPU budget (small networks, few epochs: see the table's note) and writes per-class
and mean AUROC, fit and CPU seconds to docs/benchmarks.md (``--only``: to a section of its own).
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

DETECTORS = [
    {"name": "anomaly-f-anogan", "label": "f-AnoGAN",
     "params": {"model": "image-gan", "params": {"latent_dim": 16, "width": 16}, "epochs": 300,
                "encoder_epochs": 150, "width": 16, "batch_size": 32}},
    {"name": "anomaly-anoddpm", "label": "AnoDDPM",
     "params": {"model": "image-ddpm", "params": {"base_channels": 16, "num_timesteps": 100}, "noise_step": 30,
                "repeats": 2, "epochs": 300, "batch_size": 32}},
    {"name": "anomaly-pca", "label": "PCA", "params": {"n_components": 0.9}},
    {"name": "anomaly-ocsvm", "label": "OC-SVM", "params": {"nu": 0.1}},
    {"name": "anomaly-iforest", "label": "IForest", "params": {"n_estimators": 100}},
    {"name": "anomaly-kde", "label": "KDE", "params": {}},
]
DETECTORS.insert(2, {**DETECTORS[1], "label": "AnoDDPM simplex",
                     "params": {**DETECTORS[1]["params"], "noise": "simplex"}})
CLASSICAL = ("PCA", "OC-SVM", "IForest", "KDE")  # seconds per digit: always run beside the others
SECTION = "anomaly one-class digits, f-AnoGAN and AnoDDPM"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", default=[], choices=[d["label"] for d in DETECTORS if d["label"] not in CLASSICAL],
                        help="run these detectors (and the classical baselines) only")
    args = parser.parse_args()

    from gentoolkit import RuntimeOptions, Toolkit

    detectors = [dict(spec, params=dict(spec["params"])) for spec in DETECTORS
                 if not args.only or spec["label"] in args.only or spec["label"] in CLASSICAL]
    overrides: dict = {"detectors": detectors, "save_detectors": False}
    if args.quick:
        overrides.update(classes=[0], show_class=0)
        for spec in detectors:
            for key in ("epochs", "encoder_epochs"):
                if key in spec["params"]:
                    spec["params"][key] = max(1, spec["params"][key] // 10)
    began, cpu = time.perf_counter(), time.process_time()
    result = Toolkit().run("anomaly", overrides=overrides,
                           options=RuntimeOptions(out=Path("runs/bench/anomaly_digits_generative"), progress=False,
                                                  threads=1))
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    lines = per_class_table(result.outputs, ("fit s / class", "fit_seconds", ".1f"),
                            ("score s / class", "score_seconds", ".1f"))
    config = "; ".join(f"{spec['label']} {spec['params']}" for spec in detectors if spec["label"] not in CLASSICAL)
    body = "\n".join(lines) + (
        f"\n\nAUROC, anomalies = the other nine digits of the 899 test images. {wall:.0f} s wall, {cpu:.0f} s CPU "
        f"(1 torch thread, `nice -n 10`, load average {os.getloadavg()[0]:.1f} at the end: the 2 cores were shared). "
        f"Budget-sized, not the papers' sizes: {config}.")
    only = " --only " + " ".join(f'"{label}"' for label in args.only) if args.only else ""
    write_section(SECTION + (f" ({', '.join(args.only)})" if args.only else ""),
                  "nice -n 10 python bench/anomaly_digits_generative.py" + (" --quick" if args.quick else "") + only,
                  body)
    print(body)


if __name__ == "__main__":
    main()
