"""Augmentation benchmark, molecules and text: each task's default config through the public API, its
table (mean ± SD over 5 seeds) into its own section of docs/benchmarks.md ("augmentation: molecules",
"augmentation: text").

    python bench/augmentation_molecules_text.py              # both tables
    python bench/augmentation_molecules_text.py molecules    # one of them

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
from gentoolkit_augmentation.report import Experiment, slug  # noqa: E402

TASKS = {"molecules": "augmentation-molecules", "text": "augmentation-text"}
PACKAGE = Path(__file__).resolve().parents[1] / "plugins" / "augmentation" / "gentoolkit_augmentation"
SHARED = [PACKAGE / "pipeline.py", "gentoolkit"]  # report.py only formats the scores
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


def section(domain: str, entry: dict) -> str:
    """The Markdown table of one domain, its timing and what the generators made."""
    r = entry["result"]
    experiment = Experiment.from_json(r["experiment"])
    methods = {slug(m) for m in experiment.methods()} | {f"{slug(m)}_sd" for m in experiment.methods()}
    stats = {k.split("/", 1)[1]: v for k, v in r["metrics"].items() if k.startswith(f"{domain}/")
             and k.split("/", 1)[1] not in methods}
    return "\n".join([f"### {experiment.name}", "", experiment.markdown(), "",
                      f"{r['wall']:.0f} s wall, {r['cpu']:.0f} s CPU (load average {r['load']:.1f}); "
                      f"{provenance([entry])}. Generators (mean over seeds): "
                      + ", ".join(f"{k} {v:.3g}" for k, v in stats.items()), ""])


def main(domains: list[str]) -> None:
    kit = Toolkit()
    out = Path("runs") / "bench-augmentation" / time.strftime("%Y%m%d-%H%M%S")
    for domain in domains:
        cache = ResultCache(CACHE / domain, code_digest(*CODE[domain]))
        entry = cache.get(domain) or cache.put(domain, measure(kit, domain, out))
        write_section(f"augmentation: {domain}", f"python bench/augmentation_molecules_text.py {domain}",
                      section(domain, entry))


if __name__ == "__main__":
    unknown = set(sys.argv[1:]) - set(TASKS)
    if unknown:
        sys.exit(f"Unknown domain(s) {sorted(unknown)}; give any of {', '.join(TASKS)}.")
    main(sys.argv[1:] or list(TASKS))
