"""Sampling throughput and sample quality of the shipped molecules prior.

    python bench/molecules_prior.py [N]        # N samples, default 10,000

Samples N molecules (temperature 1, batches of 500, one CPU thread unless a GPU is present),
then reports molecules/s and validity, uniqueness and novelty against MOSES train (as MOSES
defines them: canonical SMILES of the generated molecules compared with the train set's).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from report import write_section  # noqa: E402

from gentoolkit_molecules.data import moses_smiles, standardise  # noqa: E402
from gentoolkit_molecules.prior import Prior  # noqa: E402


def main(n: int) -> None:
    torch.set_num_threads(1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    prior = Prior.load(device=device)
    prior.network.eval()
    generator = torch.Generator().manual_seed(0)
    started, cpu_started = time.perf_counter(), time.process_time()
    smiles: list[str] = []
    with torch.no_grad():
        while len(smiles) < n:
            smiles += prior.sample_sequences(min(500, n - len(smiles)), generator=generator).smiles
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    valid = [c for c in map(standardise, smiles) if c is not None]
    unique = set(valid)
    novel = unique - set(moses_smiles("train"))
    rows = {"samples": f"{n:,}", "device": device, "sampling time (s)": f"{seconds:.1f}",
            "molecules/s": f"{n / seconds:.0f}", "sampling CPU time (s)": f"{cpu_seconds:.1f}",
            "molecules per CPU second": f"{n / cpu_seconds:.0f}",
            "load average at the end (other jobs on the shared cores)": f"{os.getloadavg()[0]:.1f}",
            "validity": f"{len(valid) / n:.4f}",
            "uniqueness (unique / valid)": f"{len(unique) / max(len(valid), 1):.4f}",
            "novelty vs MOSES train": f"{len(novel) / max(len(unique), 1):.4f}"}
    config = prior.config
    body = (f"Shipped prior: {config['layers']}-layer {config['kind'].upper()}, {prior.num_parameters():,} parameters.\n\n"
            "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows.items()))
    write_section("molecules_prior", f"python bench/molecules_prior.py {n}", body)
    print(body)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
