"""One-class digits: a flow's (or PixelCNN's) likelihood, typicality and likelihood ratio beside the classical baselines.

    nice -n 10 python bench/anomaly_digits_flow.py                   # all ten digits
    nice -n 10 python bench/anomaly_digits_flow.py --classes 0 8     # a subset (the section says which)
    nice -n 10 python bench/anomaly_digits_flow.py --quick           # digit 0, a tenth of the epochs
    nice -n 10 python bench/anomaly_digits_flow.py --model pixelcnn --classes 8   # PixelCNN instead of RealNVP

Runs the ``anomaly`` task (stratified 50/50 split, seed 0; each digit in turn is normal) with the image
plugin's RealNVP reached through the registry (``image-realnvp``, 17 grey levels as the digits have): -log p(x)
(``anomaly-generative``, score ``nll``), its typicality |-log p(x) - H| (Nalisnick et al. 2019; same flow) and
the likelihood ratio against a background flow trained on the digits with 20 % of the pixels replaced by noise
(``anomaly-likelihood-ratio``, Ren et al. 2019), beside PCA, OC-SVM, Isolation Forest and KDE of the same run.
``--model pixelcnn`` runs the same columns with the likelihood-ratio bench's PixelCNN instead (slower: run a
subset of digits with ``--classes`` on a small machine).
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

# The image plugin's default RealNVP (2 scales, 3 couplings per block, width 64) and the likelihood-ratio
# bench's PixelCNN, each with 17 grey levels as the digits have, and a small background model of the same kind.
MODELS = {
    "realnvp": {"model": "image-realnvp", "params": {"levels": 17}, "epochs": 300, "batch_size": 32,
                "background": {"num_scales": 2, "steps_per_scale": 1, "hidden_channels": 16, "levels": 17},
                "title": "RealNVP"},
    "pixelcnn": {"model": "image-pixelcnn", "params": {"channels": 16, "num_layers": 4, "levels": 17}, "epochs": 100,
                 "batch_size": 32, "background": {"channels": 16, "num_layers": 1, "levels": 17}, "title": "PixelCNN"},
}
BASELINES = [
    {"name": "anomaly-pca", "label": "PCA", "params": {"n_components": 0.9}},
    {"name": "anomaly-ocsvm", "label": "OC-SVM", "params": {"nu": 0.1}},
    {"name": "anomaly-iforest", "label": "IForest", "params": {"n_estimators": 100}},
    {"name": "anomaly-kde", "label": "KDE", "params": {}},
]


def detectors(kind: str, epochs: int) -> list[dict]:
    """The model's -log p, typicality and likelihood ratio, then the classical baselines."""
    spec = MODELS[kind]
    fit = {"model": spec["model"], "params": spec["params"], "epochs": epochs, "batch_size": spec["batch_size"]}
    name = spec["title"] if kind == "pixelcnn" else "flow"
    return [
        {"name": "anomaly-generative", "label": f"{name} -log p", "params": {**fit, "score": "nll"}},
        {"name": "anomaly-generative", "label": f"{name} typicality", "params": {**fit, "score": "typicality"}},
        {"name": "anomaly-likelihood-ratio", "label": f"{name} likelihood ratio",
         "params": {**fit, "background_params": spec["background"], "mutation_rate": 0.2}},
        *BASELINES,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--classes", nargs="+", type=int, default=[], help="normal digits to run (default: all)")
    parser.add_argument("--model", choices=list(MODELS), default="realnvp")
    parser.add_argument("--epochs", type=int, default=None, help="default: the model's (RealNVP 300, PixelCNN 100)")
    args = parser.parse_args()
    spec = MODELS[args.model]

    from gentoolkit import RuntimeOptions, Toolkit

    epochs = args.epochs or spec["epochs"]
    epochs = max(1, epochs // 10) if args.quick else epochs
    classes = [0] if args.quick and not args.classes else args.classes
    overrides: dict = {"detectors": detectors(args.model, epochs), "save_detectors": False, "classes": classes,
                       "show_class": classes[0] if classes else 8}
    began, cpu = time.perf_counter(), time.process_time()
    result = Toolkit().run("anomaly", overrides=overrides,
                           options=RuntimeOptions(out=Path(f"runs/bench/anomaly_digits_{args.model}"), progress=False,
                                                  threads=1))
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    lines = per_class_table(result.outputs, ("fit s / class", "fit_seconds", ".1f"),
                            ("score s / class", "score_seconds", ".2f"))
    ran = f"digits {', '.join(map(str, classes))} only" if classes else "all ten digits"
    body = "\n".join(lines) + (
        f"\n\nAUROC, anomalies = the other nine digits of the 899 test images; {ran}. {wall:.0f} s wall, {cpu:.0f} s "
        f"CPU, {cpu / max(1, len(classes) or 10):.0f} s CPU per digit (1 torch thread, `nice -n 10`, load average "
        f"{os.getloadavg()[0]:.1f} at the end: the 2 cores were shared). {spec['title']} {spec['params']} (the image "
        f"plugin's defaults otherwise), {epochs} epochs, batch {spec['batch_size']}; background {spec['background']}, "
        "mutation rate 0.2, as many epochs. The three likelihood columns share one model per digit (the first "
        "column's fit seconds hold its training; the ratio's hold the background's).")
    section = f"anomaly one-class digits, {spec['title']} likelihood"
    write_section(section, "nice -n 10 python bench/anomaly_digits_flow.py" + (" --quick" if args.quick else "")
                  + (f" --model {args.model}" if args.model != "realnvp" else "")
                  + (f" --classes {' '.join(map(str, classes))}" if args.classes else "")
                  + (f" --epochs {args.epochs}" if args.epochs else ""), body)
    print(body)


if __name__ == "__main__":
    main()
