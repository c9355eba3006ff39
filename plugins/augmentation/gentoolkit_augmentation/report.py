"""One augmentation experiment's scores and the rule for claiming a gain, shared by every domain.

An :class:`Experiment` holds, for each method (real only, classical, generated, filtered, CAS,
full-data ceiling), one downstream score per seed, every method on the same seeds and scored by
the same classifier. A method beats a baseline only when the difference of means exceeds one
standard deviation: the larger of the two methods' sample SDs (ddof=1) over seeds.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from gentoolkit import GentoolkitError

# The standard methods, in table order; a domain may add its own (e.g. "SMOTE", "generated τ=0.5").
REAL, CLASSICAL, GENERATED, FILTERED, CAS, CEILING = (
    "real only", "classical", "generated", "generated filtered", "generated only (CAS)", "full data")
METHODS = (REAL, CLASSICAL, GENERATED, FILTERED, CAS, CEILING)
# The filters apart, where a domain reports them apart (FILTERED is then the classifier filter alone).
KNN_FILTERED, BOTH_FILTERS = "generated, k-NN filtered", "generated, both filters"
CLASSICAL_FILTERED = "classical + generated filtered"  # the classical copies and the kept samples together
FONTS = "font renders added directly"  # outside data as is: the baseline of a generator pretrained on it
# An unlabelled pool beside the budget (DAGAN's setting): samples of a generator trained on it (`unlabelled.variation`),
# and its semi-supervised peers.
POOL_GENERATED, POOL_FILTERED = "pool samples", "pool samples filtered"
POOL_CLASSICAL_FILTERED = "classical + pool samples filtered"
SELF_TRAINING, SPREADING = "self-training (pool)", "label spreading (pool)"
POOL_SELF_TRAINING_FILTERED = "self-training (pool) + pool samples filtered"
POOL_SPREADING_FILTERED = "label spreading (pool) + pool samples filtered"
BASELINES = (REAL, CLASSICAL)  # what a generated method must beat
MIN_SEEDS = 5


@dataclass(frozen=True)
class Gain:
    """``method`` minus ``baseline`` in mean score; ``sd`` is the larger of their SDs."""

    method: str
    baseline: str
    difference: float
    sd: float

    @property
    def significant(self) -> bool:
        """A gain is claimed only when the difference of means exceeds one SD."""
        return self.difference > self.sd

    @property
    def loss(self) -> bool:
        """Worse than the baseline by more than one SD."""
        return -self.difference > self.sd

    def __str__(self) -> str:
        verdict = "gain" if self.significant else ("loss" if self.loss else "within 1 SD")
        return f"{self.difference:+.3f} vs {self.baseline} (SD {self.sd:.3f}): {verdict}"


@dataclass
class Experiment:
    """Per-seed scores of each method on one setting, e.g. digits at 5 real images per class."""

    name: str  # "digits, 5 per class"
    metric: str  # "accuracy", "roc_auc", "balanced_accuracy", ...
    seeds: list[int]
    scores: dict[str, list[float]] = field(default_factory=dict)  # method -> one score per seed
    notes: dict[str, str] = field(default_factory=dict)  # method -> how it was made (shown in JSON)

    def __post_init__(self) -> None:
        if len(self.seeds) < MIN_SEEDS or len(set(self.seeds)) != len(self.seeds):
            raise GentoolkitError(f"Experiment {self.name!r}: give at least {MIN_SEEDS} distinct seeds, got "
                                  f"{self.seeds}; one SD over fewer seeds is too noisy to claim a gain with.")

    def add(self, method: str, scores: Iterable[float], note: str = "") -> None:
        """Record ``method``'s scores, one per seed in the order of ``seeds``."""
        scores = [float(s) for s in scores]
        if len(scores) != len(self.seeds):
            raise GentoolkitError(f"Experiment {self.name!r}: method {method!r} has {len(scores)} scores for "
                                  f"{len(self.seeds)} seeds; every method must run on the same seeds.")
        self.scores[method] = scores
        if note:
            self.notes[method] = note

    def mean_sd(self, method: str) -> tuple[float, float]:
        scores = self.scores[method]
        return statistics.fmean(scores), statistics.stdev(scores)

    def gain(self, method: str, baseline: str = REAL) -> Gain:
        (m, s), (bm, bs) = self.mean_sd(method), self.mean_sd(baseline)
        return Gain(method, baseline, m - bm, max(s, bs))

    def methods(self) -> list[str]:
        """Recorded methods: the standard ones in table order, then the others as added."""
        return [m for m in METHODS if m in self.scores] + [m for m in self.scores if m not in METHODS]

    def baselines(self) -> list[str]:
        """The recorded baselines (real only, classical) that every method is compared with."""
        return [b for b in BASELINES if b in self.scores]

    def rows(self) -> list[tuple[str, float, float, list[Gain | None]]]:
        """Per method: mean, SD and its Gain against each baseline (None against itself); what the
        rich, Markdown and HTML tables show."""
        return [(m, *self.mean_sd(m), [None if b == m else self.gain(m, b) for b in self.baselines()])
                for m in self.methods()]

    def gains(self, method: str) -> list[Gain]:
        """``method`` against each recorded baseline (real only, classical) other than itself."""
        return [self.gain(method, b) for b in self.baselines() if b != method]

    def to_json(self) -> dict[str, Any]:
        rows = {}
        for method in self.methods():
            mean, sd = self.mean_sd(method)
            rows[method] = {"mean": mean, "sd": sd, "scores": self.scores[method],
                            **({"note": self.notes[method]} if method in self.notes else {}),
                            "gains": {g.baseline: {"difference": g.difference, "sd": g.sd, "significant": g.significant}
                                      for g in self.gains(method)}}
        return {"name": self.name, "metric": self.metric, "seeds": self.seeds, "methods": rows,
                "rule": "gain claimed when the difference of means exceeds the larger of the two sample SDs"}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Experiment:
        experiment = cls(data["name"], data["metric"], list(data["seeds"]))
        for method, row in data["methods"].items():
            experiment.add(method, row["scores"], row.get("note", ""))
        return experiment

    def flat_metrics(self, prefix: str) -> dict[str, float]:
        """``{prefix}/{method}`` mean and ``.../sd`` as flat numbers for metrics.json and trackers."""
        out = {}
        for method in self.methods():
            mean, sd = self.mean_sd(method)
            key = f"{prefix}/{slug(method)}"
            out[key], out[f"{key}_sd"] = mean, sd
        return out

    def table(self) -> Any:
        """A rich Table: mean ± SD per method and its difference from real only and classical."""
        from rich.table import Table

        table = Table(title=f"{self.name}: {self.metric}, mean ± SD over {len(self.seeds)} seeds",
                      caption="gain = difference of means > the larger SD of the two (bold green); "
                              "loss in red", caption_justify="left")
        table.add_column("method")
        table.add_column(self.metric, justify="right")
        for baseline in self.baselines():
            table.add_column(f"vs {baseline}", justify="right")
        for method, mean, sd, gains in self.rows():
            cells = [f"{g.difference:+.3f}" if g else "" for g in gains]
            styles = ["bold green" if g and g.significant else "red" if g and g.loss else "" for g in gains]
            table.add_row(method, f"{mean:.3f} ± {sd:.3f}", *(f"[{s}]{c}[/]" if s else c for c, s in zip(cells, styles)))
        return table

    def markdown(self) -> str:
        """The same table as Markdown (docs/benchmarks.md)."""
        baselines = self.baselines()
        lines = [f"| method | {self.metric} (mean ± SD) | " + " | ".join(f"vs {b}" for b in baselines) + " |",
                 "|---|---|" + "---|" * len(baselines)]
        for method, mean, sd, gains in self.rows():
            cells = ["" if g is None else f"**{g.difference:+.3f}**" if g.significant else f"{g.difference:+.3f}"
                     for g in gains]
            lines.append(f"| {method} | {mean:.3f} ± {sd:.3f} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def slug(method: str) -> str:
    """A method's name as a metric key: ``generated only (CAS)`` -> ``generated_only_cas``."""
    return re.sub(r"[^a-z0-9]+", "_", method.lower()).strip("_")
