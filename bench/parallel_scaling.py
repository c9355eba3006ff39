"""Scale-out: molecules RL throughput on 1..N Ray workers with a slow oracle, executor overhead
against the oracle's cost, and real Vina docking on 1 and 2 workers.

    python bench/parallel_scaling.py [--workers 1 2 4 8 16] [--steps 3] [--no-docking]

The slow oracle sleeps 0.5 s per molecule (a stand-in for a docking call that leaves the CPU free),
so Ray workers reserve 0.1 CPU each and 16 of them fit on a small machine. Needs the ray extra
(and the molecules plugin's docking extra for the Vina rows).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section  # noqa: E402

import gentoolkit_molecules  # noqa: E402
from gentoolkit.api import Toolkit  # noqa: E402
from gentoolkit.runtime import Runtime, RuntimeOptions  # noqa: E402
from gentoolkit_molecules.scoring.builtin import register_builtin_components  # noqa: E402
from gentoolkit_molecules.scoring import function as scoring_module  # noqa: E402

ORACLE = textwrap.dedent("""
    import time
    def slow(smiles):
        time.sleep({seconds} * len(smiles))
        return [len(s) for s in smiles]
""")
DRUGS = ["CC(=O)Oc1ccccc1C(=O)O", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
         "CC(=O)Nc1ccc(O)cc1", "OC(=O)c1ccccc1O", "c1ccc2c(c1)cc[nH]2", "Cc1ccccc1NC(=O)C", "COc1ccc(CCN)cc1"]


def oracle(folder: Path, seconds: float) -> str:
    path = folder / f"oracle_{seconds:g}.py"
    path.write_text(ORACLE.format(seconds=seconds))
    return f"{path}:slow"


CALLS: list[tuple[int, float]] = []  # (molecules, seconds) of every ScoringFunction call


def _timed(call):
    def timed(self, smiles):
        start = time.perf_counter()
        result = call(self, smiles)
        CALLS.append((len(result.smiles), time.perf_counter() - start))
        return result
    return timed


scoring_module.ScoringFunction.__call__ = _timed(scoring_module.ScoringFunction.__call__)


def rl_throughput(folder: Path, workers: int, steps: int, function: str) -> tuple[float, float]:
    """(molecules scored per second after the first step, whole-run molecules per second) of a
    molecules RL run on Ray; the first step also starts the workers."""
    CALLS.clear()
    config = {"rl": {"max_steps": steps, "batch_size": 32, "checkpoint_every": 100},
              "scoring": {"components": [{"component": "user_function", "params": {"function": function}},
                                         {"component": "qed"}]}}
    options = RuntimeOptions(device="cpu", out=folder / f"rl-{workers}", progress=False, threads=1,
                             executor="ray", workers=workers, worker_cpus=0.1)
    kit = Toolkit(plugins=[gentoolkit_molecules], entrypoints=False)
    metrics = kit.run("molecules", config, options=options).metrics
    steady = sum(n for n, _ in CALLS[1:]) / sum(t for _, t in CALLS[1:])
    return steady, metrics["oracle_calls"] / metrics["wall_time_s"]


def scoring_rate(smiles: list[str], function: str | None, executor: str, workers: int) -> float:
    """Molecules/s of a ScoringFunction (QED, plus the slow oracle if given) on batches of 64."""
    registry: dict = {}
    register_builtin_components(lambda c: registry.__setitem__(c.name, dataclasses.replace(c, expensive=True)))
    entries = [{"component": "qed"}] + ([{"component": "user_function", "params": {"function": function}}]
                                        if function else [])
    with Runtime(RuntimeOptions(executor=executor, workers=workers, worker_cpus=0.5, progress=False)) as runtime:
        with scoring_module.build_scoring_function({"components": entries}, registry, runtime) as scoring:
            scoring(smiles[:64])  # warm-up: workers start and load RDKit
            start = time.perf_counter()
            for i in range(0, len(smiles), 64):
                scoring(smiles[i:i + 64])
            return len(smiles) / (time.perf_counter() - start)


def docking_rate(executor: str, workers: int) -> tuple[float, float]:
    """(molecules/s, mean kcal/mol) docking DRUGS into 1IEP at exhaustiveness 1."""
    config = {"components": [{"component": "vina_docking", "params": {"receptor": "1iep", "exhaustiveness": 1}}]}
    with Runtime(RuntimeOptions(executor=executor, workers=workers, progress=False)) as runtime:
        with scoring_module.build_scoring_function(config, None, runtime) as scoring:
            start = time.perf_counter()
            result = scoring(DRUGS)
            return len(DRUGS) / (time.perf_counter() - start), float(result.raw["vina_docking"].mean())


def main() -> None:
    import ray

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--no-docking", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()[0]
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    folder = Path(tempfile.mkdtemp(prefix="gentoolkit-bench-"))
    slow = oracle(folder, 0.5)

    rows = ["| Ray workers | scoring molecules/s | speed-up | of linear | whole run molecules/s |",
            "|---|---|---|---|---|"]
    base = None
    for workers in args.workers:
        rate, whole = rl_throughput(folder, workers, args.steps, slow)
        base = base or rate / workers
        rows.append(f"| {workers} | {rate:.2f} | {rate / base:.2f} | {rate / base / workers:.2f} | {whole:.2f} |")
        print(rows[-1], flush=True)
    scaling = "\n".join(rows)

    smiles = [s for s in DRUGS * 40][:320]
    rows = ["| oracle cost per molecule | in-process | 2 processes | 2 Ray workers |", "|---|---|---|---|"]
    for seconds in (0.0, 0.002, 0.02):
        function = oracle(folder, seconds) if seconds else None
        rates = [scoring_rate(smiles, function, ex, 2) for ex in ("local", "processes", "ray")]
        rows.append(f"| QED{f' + {seconds * 1000:g} ms sleep' if seconds else ' only'} | "
                    + " | ".join(f"{r:,.0f}" for r in rates) + " |")
        print(rows[-1], flush=True)
    overhead = "\n".join(rows)

    docking = ""
    if not args.no_docking:
        rows = ["| executor | workers | molecules/s | mean Vina score |", "|---|---|---|---|"]
        for executor, workers in (("local", 1), ("ray", 1), ("ray", 2)):
            rate, energy = docking_rate(executor, workers)
            rows.append(f"| {executor} | {workers} | {rate:.3f} | {energy:.2f} |")
            print(rows[-1], flush=True)
        docking = ("\n\nReal docking: 8 small drugs into 1IEP at exhaustiveness 1, one Vina thread per worker.\n\n"
                   + "\n".join(rows))
    ray.shutdown()
    note = (f"RL throughput: `gentoolkit run molecules` with the shipped prior, {args.steps} steps of 32, scoring "
            "QED plus an oracle that sleeps 0.5 s per molecule, on Ray workers reserving 0.1 CPU each. "
            "Scoring molecules/s is the RL loop's scoring calls after the first step (which also starts the "
            "workers); speed-up is against 1 worker. Whole run: unique molecules scored over the run's wall "
            "time (prior loading, Ray workers' start, sampling and learning included).\n\n" + scaling
            + "\n\nExecutor overhead: 320 molecules in batches of 64 (warm-up excluded), molecules/s; every "
            "component runs in the pool (as an expensive one does).\n\n" + overhead + docking
            + f"\n\nCommit {commit}; load average {load:.1f} at the start and {os.getloadavg()[0]:.1f} at the "
            "end (the machine's cores were shared with other jobs).")
    write_section("parallel scaling", "python bench/parallel_scaling.py", note)


if __name__ == "__main__":
    main()
