"""The run's tables, as rich tables for the console."""

from __future__ import annotations

from typing import Any

from gentoolkit_tabular.imbalance import METRICS


def fidelity_table(report: dict[str, Any], reference: dict[str, Any], dataset: str) -> Any:
    """One row per generator (and real test rows as the reference): fidelity and efficacy."""
    from rich.table import Table

    table = Table(title=f"{dataset}: synthetic rows vs the real training rows")
    for column in ("rows", "column shapes", "pair trends", "quality", "TSTR bal. acc.", "TSTR ROC-AUC",
                   "TSTR/TRTR AUC"):
        table.add_column(column, justify="right" if column != "rows" else "left")
    for label, row in [*report.items(), ("real test rows", reference)]:
        fid, eff = row["fidelity"], row["efficacy"]
        relative = f"{eff['relative_roc_auc']:.3f}" if "relative_roc_auc" in eff else "1 (TRTR)"
        table.add_row(label, f"{fid['column_shapes']:.3f}", f"{fid['pair_trends']:.3f}", f"{fid['quality']:.3f}",
                      f"{eff['tstr_balanced_accuracy']:.3f}", f"{eff['tstr_roc_auc']:.4f}", relative)
    return table


def imbalance_table(summary: dict[str, dict[str, float]], minority: str, keep: float, seeds: int) -> Any:
    """Mean ± SD over seeds of each oversampling method."""
    from rich.table import Table

    table = Table(title=f"minority class {minority!r} kept at {keep:.0%} in training; mean ± SD over {seeds} seeds")
    table.add_column("oversampling")
    for metric in METRICS:
        table.add_column(metric.replace("_", " "), justify="right")
    for method, row in summary.items():
        table.add_row(method, *(f"{row[f'{m}_mean']:.4f} ± {row[f'{m}_sd']:.4f}" for m in METRICS))
    return table
