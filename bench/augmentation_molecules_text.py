"""Augmentation benchmark, molecules and text: each task's default config through the public API, its
table (mean ± SD over 5 seeds) into the "augmentation: molecules and text" section of docs/benchmarks.md.

    python bench/augmentation_molecules_text.py              # both tables
    python bench/augmentation_molecules_text.py molecules    # one of them (the other comes from the cache)

Results are cached per task and code (.cache/bench/augmentation_molecules_text/<domain>/<code hash>/).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import ResultCache, code_digest, provenance, write_section  # noqa: E402

from gentoolkit import RuntimeOptions, Toolkit  # noqa: E402
from gentoolkit_augmentation.report import Experiment  # noqa: E402

TASKS = {"molecules": "augmentation-molecules", "text": "augmentation-text"}
PACKAGE = Path(__file__).resolve().parents[1] / "plugins" / "augmentation" / "gentoolkit_augmentation"
SHARED = [PACKAGE / "pipeline.py", PACKAGE / "report.py", "gentoolkit"]
CODE = {"molecules": [PACKAGE / "molecules.py", "gentoolkit_molecules", *SHARED],  # what each table depends on
        "text": [PACKAGE / "text.py", "gentoolkit_text", *SHARED]}
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "bench" / "augmentation_molecules_text"


def measure(kit: Toolkit, domain: str, out: Path) -> dict:
    """Run one task's default config; its experiment, metrics, wall and CPU seconds and load."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = kit.run(TASKS[domain], options=RuntimeOptions(device="cpu", seed=0, out=out / domain, progress=False))
    return {"experiment": result.outputs["experiment"].to_json(),
            "metrics": {k: v for k, v in result.metrics.items() if isinstance(v, float)},
            "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "load": os.getloadavg()[0]}


def section(entries: dict[str, dict]) -> str:
    lines = []
    for domain, entry in entries.items():
        r = entry["result"]
        experiment = Experiment.from_json(r["experiment"])
        lines += [f"### {experiment.name}", "", experiment.markdown(), "",
                  f"{r['wall']:.0f} s wall, {r['cpu']:.0f} s CPU (load average {r['load']:.1f}); "
                  f"{provenance([entry])}. Generator statistics (mean over seeds): "
                  + ", ".join(f"{k.split('/', 1)[1]} {v:.3f}" for k, v in r["metrics"].items()
                              if k.startswith(f"{domain}/") and k.count("/") >= 1
                              and k.split("/", 1)[1].replace(" ", "_") not in _method_keys(experiment)), ""]
    return "\n".join(lines)


def _method_keys(experiment: Experiment) -> set[str]:
    keys = {m.replace(" ", "_") for m in experiment.methods()}
    return keys | {f"{k}_sd" for k in keys}


def main(domains: list[str]) -> None:
    kit = Toolkit()
    out = Path("runs") / "bench-augmentation" / time.strftime("%Y%m%d-%H%M%S")
    entries = {}
    for domain in TASKS:
        cache = ResultCache(CACHE / domain, code_digest(*CODE[domain]))
        entry = cache.get(domain)
        if entry is None and domain in domains:
            entry = cache.put(domain, measure(kit, domain, out))
        if entry is not None:
            entries[domain] = entry
    write_section("augmentation: molecules and text", "python bench/augmentation_molecules_text.py", section(entries))


if __name__ == "__main__":
    main(sys.argv[1:] or list(TASKS))
