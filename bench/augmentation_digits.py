"""Generative augmentation of scarce digits: every method of the report at 5, 10 and 20 per class.

    python bench/augmentation_digits.py            # 5, 10, 20 real images per class; 5 seeds each
    python bench/augmentation_digits.py --quick    # 5 per class only, 30 generator epochs (a smoke run)
    python bench/augmentation_digits.py --set sample.near_real=false   # any task override
    python bench/augmentation_digits.py --per-class 5    # only these budgets
    python bench/augmentation_digits.py --per-class 20 --part   # fill the cache only (run budgets side by side)
    python bench/augmentation_digits.py --summary  # one table of every cached 5-per-class variant (generators,
                                                   # font pretraining, ...), each row with its code hash and date

Runs the ``augmentation`` task (digits split 50/50, stratified, seed 0; budgets drawn from one
half, the other half is the test set) and writes each budget's table (mean ± SD over seeds,
differences against real only and classical; bold = beyond one SD) to docs/benchmarks.md.
Each budget is cached under runs/bench/cache, keyed by the code that produced it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import ResultCache, code_digest, provenance, write_section  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--per-class", type=int, action="append", help="only these budgets (default 5, 10, 20)")
    parser.add_argument("--part", action="store_true", help="compute into the cache, write no section")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="a task override, key=value")
    parser.add_argument("--summary", action="store_true", help="write the variants table from the cache, run nothing")
    args = parser.parse_args()
    if args.summary:
        summary()
        return

    from gentoolkit import RuntimeOptions, Toolkit
    from gentoolkit.config import parse_override
    from gentoolkit_augmentation.images import DEFAULTS
    from gentoolkit_augmentation.report import Experiment

    budgets = args.per_class or ([5] if args.quick else [5, 10, 20])
    extra = {".".join(keys): value for keys, value in map(parse_override, args.overrides)}
    if args.quick:
        extra.setdefault("generator.epochs", 30)
    cache = ResultCache("runs/bench/cache/augmentation_digits",
                        code_digest("gentoolkit", "gentoolkit_augmentation", "gentoolkit_image"))
    kit = Toolkit()
    entries, bodies = [], []
    for per_class in budgets:
        key = f"{per_class}pc-" + "-".join(f"{k}={v}" for k, v in sorted(extra.items())).replace("/", "_")
        entry = cache.get(key)
        if entry is None:
            out = Path(f"runs/bench/augmentation_digits/{key}")
            shutil.rmtree(out, ignore_errors=True)  # a run resumes from checkpoints left there: time it from nothing
            began, cpu = time.perf_counter(), time.process_time()
            result = kit.run("augmentation", overrides={**extra, "per_class": [per_class]},
                             options=RuntimeOptions(out=out, progress=False))
            entry = cache.put(key, {"experiment": result.outputs["experiments"][per_class].to_json(),
                                    "kept_share": result.metrics[f"{per_class}pc/kept_share"],
                                    "wall_seconds": time.perf_counter() - began,
                                    "cpu_seconds": time.process_time() - cpu, "load": os.getloadavg()[0]})
        entries.append(entry)
        r = entry["result"]
        experiment = Experiment.from_json(r["experiment"])
        bodies.append(f"### {experiment.name}\n\n{experiment.markdown()}\n\nFilter kept {r['kept_share']:.0%} of the "
                      f"samples; {r['cpu_seconds']:.0f} s CPU, {r['wall_seconds']:.0f} s wall (load average "
                      f"{r['load']:.1f} on the machine's cores); {provenance([entry])}.")
    settings = ", ".join(f"`{k}={v}`" for k, v in sorted(extra.items())) or "the task's defaults"
    pool_rows = extra.get("unlabelled.use", DEFAULTS["unlabelled"]["use"])
    held_out = ("the pool split 50/50 again, scored on its 449 validation images (the test split unused)"
                if extra.get("evaluate_on") == "validation" else "899 test images")
    body = (f"Logistic regression on pixels for every method; digits split 50/50 ({held_out}); 5 seeds, each "
            f"its own budget; generator and filter see only the budget{POOL_NOTE if pool_rows else ''}. "
            f"Settings: {settings}. A difference is bold "
            "only when it exceeds the larger of the two SDs.\n\n" + "\n\n".join(bodies))
    name = "augmentation digits" + (" (quick)" if args.quick else "") + (f" ({settings})" if extra and not args.quick
                                                                         else "")
    if args.part:  # a part of the benchmark: cached, the section is left to the whole command
        print(body)
        return
    command = "python bench/augmentation_digits.py" + (" --quick" if args.quick else "") + "".join(
        f" --per-class {n}" for n in args.per_class or ()) + "".join(f" --set {o}" for o in args.overrides)
    write_section(name, command, body)
    print(body)


POOL_NOTE = (" (the pool rows: an autoencoder trained on the pool's images without labels; `unlabelled.variation` "
             "says what it decodes, by default codes drawn from a Gaussian per class fitted to the labelled and the "
             "pool's codes by semi-supervised EM; `unlabelled.filter=pool` keeps samples inside the k-NN manifold of "
             "every real image; self-training and label spreading use the same unlabelled images, no generator)")
SUMMARY_METHODS = ("generated filtered", "classical + generated filtered", "font renders added directly")


def summary(per_class: int = 5) -> None:
    """One row per cached variant and generative method at ``per_class``: mean ± SD, the difference
    to real only and to classical (bold beyond the larger SD, the claim rule), the paired per-seed
    difference to classical, and whether the goal (beating both) is met."""
    import json
    import statistics

    from gentoolkit_augmentation.report import Experiment

    rows, baselines = [], None
    for path in sorted(Path("runs/bench/cache/augmentation_digits").glob(f"*/{per_class}pc*.json")):
        entry = json.loads(path.read_text())
        experiment, r = Experiment.from_json(entry["result"]["experiment"]), entry["result"]
        settings = path.stem[len(f"{per_class}pc-"):] or "defaults (image-vae near real codes)"
        baselines = baselines or experiment
        for method in (m for m in SUMMARY_METHODS if m in experiment.scores):
            paired = [a - b for a, b in zip(experiment.scores[method], experiment.scores["classical"])]
            gains = [experiment.gain(method, b) for b in ("real only", "classical")]
            cells = [f"**{g.difference:+.3f}**" if g.significant else f"{g.difference:+.3f}" for g in gains]
            mean, sd = experiment.mean_sd(method)
            rows.append(f"| {settings.replace('|', '/')} | {method} | {mean:.3f} ± {sd:.3f} | {cells[0]} | {cells[1]} | "
                        f"{statistics.fmean(paired):+.3f} ± {statistics.stdev(paired):.3f} | "
                        f"{'yes' if all(g.significant and g.difference > 0 for g in gains) else 'no'} | "
                        f"{r['cpu_seconds']:.0f} | {entry['measured_at'].replace('T', ' ')}, code {path.parent.name[:7]} |")
    if baselines is None:
        sys.exit(f"No cached {per_class}-per-class results; run the benchmark first.")
    (rm, rs), (cm, cs) = baselines.mean_sd("real only"), baselines.mean_sd("classical")
    body = (f"Digits, {per_class} real images per class, logistic regression, the same 5 seeds and budgets in every "
            f"row: real only {rm:.3f} ± {rs:.3f}, classical (kornia) {cm:.3f} ± {cs:.3f}. Each row is one cached run "
            "of `python bench/augmentation_digits.py --per-class 5 --set ...` with the settings shown. Differences "
            "are bold only beyond the larger of the two SDs (the claim rule); *paired* is the mean ± SD over seeds "
            "of the per-seed difference to classical (same budget). *Goal* = beats both real only and classical "
            "under the claim rule.\n\n| settings | method | accuracy | vs real only | vs classical | paired vs "
            "classical | goal | CPU s | measured |\n|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows))
    write_section(f"augmentation digits: generators and outside knowledge ({per_class} per class)",
                  "python bench/augmentation_digits.py --summary", body)
    print(body)


if __name__ == "__main__":
    main()
