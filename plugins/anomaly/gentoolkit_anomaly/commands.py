"""``gentoolkit anomaly score``: score files of items with a saved detector."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer


def add_commands(cli: Any) -> None:
    @cli.group("anomaly", help="Anomaly detection: score items with a fitted detector.").command("score")
    def score(
        files: list[Path] = typer.Argument(..., help="Items to score: .npy, .csv, images, .smi or .txt files."),
        model: Path = typer.Option(..., "--model", "-m", help="A saved detector (a folder written by "
                                   "`gentoolkit run anomaly` or Toolkit.save_model)."),
        out: Optional[Path] = typer.Option(None, help="Write item, score, anomaly as CSV here."),
        device: str = typer.Option("cpu", help="cpu | cuda | cuda:N | mps (for a generative detector)."),
    ) -> None:
        """Print each item's anomaly score (higher = more anomalous) and label (1 = anomaly)."""
        import csv

        from rich.console import Console
        from rich.table import Table

        import numpy as np

        from gentoolkit_anomaly.data import read_items
        from gentoolkit_anomaly.errors import AnomalyInputError

        detector = cli.toolkit.load_model(model, device=device)
        names, scores = [], []
        for path in files:
            items = read_items(path, detector.item_shape_)
            try:
                scores.append(detector.decision_function(items))
            except AnomalyInputError as err:  # name the file, not the array inside it
                raise AnomalyInputError(f"{path}: {str(err).replace('X ', 'the file ', 1)}") from None
            names += [f"{path}:{i}" for i in range(len(items))] if len(items) > 1 else [str(path)]
        scores = np.concatenate(scores)
        flags = (scores > detector.threshold_).astype(int)
        if out is not None:
            with out.open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["item", "score", "anomaly"])
                writer.writerows(zip(names, scores.tolist(), flags.tolist()))
        table = Table(title=f"{model}: threshold {detector.threshold_:.4g}")
        for column, justify in (("item", "left"), ("score", "right"), ("anomaly", "right")):
            table.add_column(column, justify=justify)
        for name, value, flag in zip(names, scores, flags):
            table.add_row(name, f"{value:.4g}", "[red]1" if flag else "0")
        Console().print(table)
        Console().print(f"{int(flags.sum())} of {len(flags)} item(s) flagged as anomalous."
                        + (f" Written to {out}." if out else ""))
