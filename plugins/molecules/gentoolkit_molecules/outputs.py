"""What a molecules run leaves in its folder: the scored-molecule CSV, SDF, a PNG grid, curves, metrics."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

from gentoolkit.errors import GentoolkitError


class MoleculeLog:
    """``molecules.csv``, appended and flushed every step, so a killed run loses nothing.

    Reopening an existing log (a resumed run) keeps its rows and drops only a half-written last
    line, which a kill in the middle of a write can leave behind.
    """

    def __init__(self, path: Path, columns: Sequence[str]):
        self.path, self.columns = Path(path), list(columns)
        if self.path.exists() and self.path.stat().st_size:
            _drop_partial_line(self.path)
            header = next(csv.reader(self.path.open(newline="")), [])
            if header != self.columns:
                raise GentoolkitError(f"{self.path} has columns {header}, expected {self.columns}; "
                                 "it belongs to another run: choose a new --out folder.")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(self.columns)

    def rows(self) -> list[dict[str, str]]:
        with self.path.open(newline="") as f:
            return list(csv.DictReader(f))

    def append(self, rows: Iterable[Sequence[Any]]) -> None:
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerows(rows)  # floats at full precision: a resumed run reads them back exactly
            f.flush()


def log_columns(labels: Sequence[str]) -> list[str]:
    """The columns of molecules.csv: step, SMILES, total and penalised score, each component, and
    the reason a molecule scored 0 (invalid SMILES, a component that failed or timed out)."""
    return (["step", "smiles", "score", "reward"] + [c for label in labels for c in (f"{label}_raw", f"{label}_score")]
            + ["reason"])


def scored_rows(step: int, result: Any, rewards: Sequence[float]) -> list[list[Any]]:
    """molecules.csv rows of a ScoreResult: each component's raw and transformed value."""
    labels = list(result.raw)
    return [[step, smi, float(result.total[i]), float(rewards[i])]
            + [float(v) for label in labels for v in (result.raw[label][i], result.transformed[label][i])]
            + [result.reasons[i] if result.reasons else ""]
            for i, smi in enumerate(result.smiles)]


def _drop_partial_line(path: Path) -> None:
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def read_scored(path: Path) -> tuple[list[str], list[float]]:
    """SMILES and total scores of a molecules.csv, in the order they were scored."""
    with Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["smiles"] for r in rows], [float(r["score"]) for r in rows]


def best(smiles: Sequence[str], scores: Sequence[float], n: int) -> list[tuple[str, float]]:
    """The ``n`` best distinct molecules, best first."""
    seen: dict[str, float] = {}
    for smi, score in zip(smiles, scores):
        if smi and not math.isnan(score):
            seen[smi] = max(score, seen.get(smi, -math.inf))
    return sorted(seen.items(), key=lambda item: -item[1])[:n]


def write_sdf(path: Path, molecules: Sequence[tuple[str, float]]) -> Path:
    """An SDF with 2D coordinates and the score as a property, best first."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    writer = Chem.SDWriter(str(path))
    for rank, (smi, score) in enumerate(molecules, 1):
        mol = Chem.MolFromSmiles(smi)
        if mol is None:
            continue
        AllChem.Compute2DCoords(mol)
        mol.SetProp("_Name", f"rank {rank}")
        mol.SetProp("SMILES", smi)
        mol.SetDoubleProp("score", float(score))
        writer.write(mol)
    writer.close()
    return Path(path)


def draw_grid(path: Path, molecules: Sequence[tuple[str, float]], per_row: int = 6,
              legend: str | None = "score") -> Path | None:
    """A PNG grid of molecules with their rank and value (``legend`` names it; None: rank only);
    None, and no file, when there is nothing to draw (``output.grid = 0``)."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    pairs = [(Chem.MolFromSmiles(s), v) for s, v in molecules]
    pairs = [(m, v) for m, v in pairs if m is not None]
    if not pairs:
        return None
    legends = [f"#{i} {legend} {v:.3f}" if legend else f"#{i}" for i, (_, v) in enumerate(pairs, 1)]
    image = Draw.MolsToGridImage([m for m, _ in pairs], molsPerRow=per_row, subImgSize=(250, 220),
                                 legends=legends)
    image.save(str(path))
    return Path(path)


def plot_learning_curve(path: Path, history: Sequence[dict[str, float]], title: str = "") -> Path:
    """Mean batch score, the batch's top-10 mean and the best-so-far top-10 mean per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A batch the oracle budget cut short is a handful of molecules, not a batch: leave it off the
    # per-batch lines (the best-so-far line still counts it).
    whole = [h for h in history if not h.get("budget_cut")]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([h["step"] for h in whole], [h["mean_score"] for h in whole], label="batch mean")
    ax.plot([h["step"] for h in whole], [h["batch_top10"] for h in whole], label="batch top-10 mean")
    ax.plot([h["step"] for h in history], [h["top10"] for h in history], label="best-so-far top-10 mean")
    ax.set_xlabel("step")
    ax.set_ylabel("score")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_training(path: Path, history: Sequence[dict[str, float]]) -> Path:
    """Training and validation NLL per epoch of (transfer) learning."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [h["train_nll"] for h in history], marker="o", label="train NLL")
    ax.plot(epochs, [h["valid_nll"] for h in history], marker="o", label="validation NLL")
    ax.set_xlabel("epoch")
    ax.set_ylabel("NLL per molecule")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def write_metrics(path: Path, metrics: dict[str, Any], reasons: dict[str, str] | None = None) -> Path:
    """metrics.json, with null (and the reason) where a metric could not be computed."""
    from gentoolkit.runlog import write_metrics

    return write_metrics(path, metrics, reasons or {})
