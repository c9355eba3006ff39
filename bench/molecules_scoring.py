"""Scoring throughput (molecules/s) of the molecules task's default objective and each PMO oracle.

    python bench/molecules_scoring.py [--molecules 2000] [--wheel /tmp/molsets/molsets-0.3.1-py3-none-any.whl]

Molecules: the first N of MOSES's test split, read from the molsets wheel. Each objective is
scored in batches of 64 (one RL step of the default config) and in one batch of all N, with
1 process, and with 2: every component then runs in the worker pool, the path an expensive
(``expensive=True``) component takes with ``scoring.parallel = 2``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gzip
import io
import os
import sys
import time
import zipfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section  # noqa: E402

from gentoolkit_molecules.defaults import SCORING  # noqa: E402
from gentoolkit_molecules.scoring.builtin import register_builtin_components  # noqa: E402
from gentoolkit_molecules.scoring.function import build_scoring_function  # noqa: E402
from gentoolkit_molecules.scoring.pmo import PMO_ORACLES  # noqa: E402

WHEEL = Path("/tmp/molsets/molsets-0.3.1-py3-none-any.whl")
BATCHES = (64, None)  # None: all molecules in one call


def moses_test(wheel: Path, n: int) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        text = gzip.decompress(archive.read("moses/dataset/data/test.csv.gz")).decode()
    return [row["SMILES"] for _, row in zip(range(n), csv.DictReader(io.StringIO(text)))]


def components(expensive: bool) -> dict:
    registry = {}
    register_builtin_components(lambda c: registry.__setitem__(c.name, dataclasses.replace(c, expensive=expensive)))
    return registry


def throughput(config: dict, smiles: list[str], processes: int, batch: int | None) -> float:
    config = {**config, "parallel": processes}
    with build_scoring_function(config, components(expensive=processes > 1)) as scoring:
        scoring(smiles[:64])  # warm-up: start workers, load SA fragment scores and catalogs
        start = time.perf_counter()
        step = batch or len(smiles)
        for i in range(0, len(smiles), step):
            scoring(smiles[i:i + step])
        return len(smiles) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=2000)
    parser.add_argument("--wheel", type=Path, default=WHEEL)
    args = parser.parse_args()
    torch.set_num_threads(1)
    smiles = moses_test(args.wheel, args.molecules)
    objectives = {"default (QED, SA, MW, similarity)": SCORING} | PMO_ORACLES
    load = os.getloadavg()[0]
    rows = ["| objective | processes | molecules/s, batches of 64 | molecules/s, one batch |", "|---|---|---|---|"]
    for name, config in objectives.items():
        for processes in (1, 2):
            rates = [throughput(config, smiles, processes, batch) for batch in BATCHES]
            rows.append(f"| {name} | {processes} | {rates[0]:,.0f} | {rates[1]:,.0f} |")
            print(rows[-1], flush=True)
    note = (f"\n\n{len(smiles)} molecules, the first of MOSES's test split. With 2 processes every component "
            "runs in the spawn-started worker pool (warm-up excluded), as an `expensive` component does; "
            "the built-in components are cheap and run in-process under `parallel = 2`. The machine's cores were "
            f"shared with other jobs (load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end), "
            "so the 2-process rows show the pool's overhead more than its speed-up.")
    write_section("molecules scoring", "python bench/molecules_scoring.py", "\n".join(rows) + note)


if __name__ == "__main__":
    main()
